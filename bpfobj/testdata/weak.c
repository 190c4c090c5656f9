/* An object as libbpf's USDT support makes them: a map defined weak, which cilium/ebpf's loader
   refuses, so that bpfobj must read the programs from the ELF itself. */
#include "../../internal/testobjects/src/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps") __weak;

extern void bpf_rcu_read_lock(void) __ksym;

static __noinline __u64 now(void)
{
	return bpf_ktime_get_ns();
}

SEC("uprobe")
int weak_map(void *ctx)
{
	bpf_rcu_read_lock();
	return bpf_map_lookup_elem(&events, &ctx) != 0;
}

SEC("fentry/vfs_read")
int weak_sub(void *ctx)
{
	return now() & 1;
}

char LICENSE[] SEC("license") = "Proprietary";
