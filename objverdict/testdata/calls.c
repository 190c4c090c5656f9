/* Programs whose answers the registries decide: each calls what some kernels lack or do not
   offer to its type. GPL, so that only the type and the release decide. */
#include "../../internal/testobjects/src/bpf.h"

static long step(__u32 i, void *ctx)
{
	return 0;
}

/* bpf_loop (id 181) arrived in 5.17. */
SEC("kprobe/do_unlinkat")
int loop_kprobe(void *ctx)
{
	return bpf_loop(4, step, 0, 0);
}

/* bpf_xdp_adjust_head is offered to xdp programs only. */
SEC("kprobe/do_unlinkat")
int xdp_helper_in_kprobe(void *ctx)
{
	return bpf_xdp_adjust_head(ctx, 0);
}

/* bpf_task_from_pid arrived in 6.12 and is not callable from kprobe programs. */
SEC("kprobe/do_unlinkat")
int kfunc_in_kprobe(void *ctx)
{
	task_from_pid_and_release();
	return 0;
}

/* bpf_task_from_pid from xdp, which the registry offers it to from 6.12. */
SEC("xdp")
int kfunc_in_xdp(void *ctx)
{
	task_from_pid_and_release();
	return 2;
}

/* Loads on every kernel. */
SEC("xdp")
int xdp_pass(void *ctx)
{
	return (bpf_ktime_get_ns() & 0) + 2;
}

/* syscall programs arrived in 5.14. */
EMPTY_PROG("syscall", syscall_prog)

/* The guide's example: a kprobe calling a helper id no kernel defines. */
SEC("kprobe/do_sys_open")
int guide_example(void *ctx)
{
	return bpf_not_defined();
}

char LICENSE[] SEC("license") = "GPL";
