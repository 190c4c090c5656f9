/* Reads through a pointer the verifier cannot prove is not NULL. */
#include "bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("xdp")
int null_deref(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&counts, &key);
	return *v & 1;
}

char LICENSE[] SEC("license") = "GPL";
