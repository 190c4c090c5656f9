/* An object as libbpf's USDT support makes them: a map defined weak, which cilium/ebpf's loader
   refuses before any kernel is asked. */
#include "bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} specs SEC(".maps") __weak;

SEC("uprobe")
int usdt_like(void *ctx)
{
	__u32 key = 0;
	return bpf_map_lookup_elem(&specs, &key) != 0;
}

EMPTY_PROG("kprobe/do_sys_openat2", plain_kprobe)

char LICENSE[] SEC("license") = "GPL";
