/* A ring buffer whose size is not a power of two: no kernel creates it. */
#include "bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 12345);
} bad_ring SEC(".maps");

SEC("kprobe/do_sys_openat2")
int use_bad_ring(void *ctx)
{
	void *e = bpf_ringbuf_reserve(&bad_ring, 8, 0);
	if (e)
		bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
