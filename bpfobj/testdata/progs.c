/* Programs cilium/ebpf's loader reads: each uses a different thing bpfobj must find. */
#include "../../internal/testobjects/src/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

const volatile __u32 wanted_pid = 0;

SEC("kprobe/do_unlinkat")
int helper_and_map(void *ctx)
{
	__u32 key = (__u32)bpf_get_current_pid_tgid();
	__u64 *v = bpf_map_lookup_elem(&counts, &key);
	if (v)
		*v += 1;
	return key == wanted_pid;
}

SEC("fentry/do_unlinkat")
int kfunc_call(void *ctx)
{
	bpf_rcu_read_lock();
	bpf_rcu_read_unlock();
	return 0;
}

static __noinline __u64 now(void)
{
	return bpf_ktime_get_ns();
}

SEC("tp_btf/sched_switch")
int subprogram(void *ctx)
{
	return now() & 1;
}

SEC("kprobe/do_sys_open")
int unknown_helper(void *ctx)
{
	return bpf_not_defined();
}

EMPTY_PROG("iter/task", iterator)

SEC("struct_ops/tcp_congestion_ops.cong_avoid")
void member(void *ctx)
{
}

EMPTY_PROG("custom/probe", unknown_section)

char LICENSE[] SEC("license") = "GPL";
