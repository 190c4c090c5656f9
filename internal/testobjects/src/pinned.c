/* A map pinned by name, which libbpf puts under /sys/fs/bpf unless told otherwise. */
#include "bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int count_open(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&shared, &key);
	if (v)
		(*v)++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
