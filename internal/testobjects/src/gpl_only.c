/* bpf_probe_read_kernel is offered only to GPL-compatible programs. */
#include "bpf.h"

SEC("kprobe/do_sys_openat2")
int read_proprietary(void *ctx)
{
	__u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), ctx);
	return v & 1;
}

char LICENSE[] SEC("license") = "Proprietary";
