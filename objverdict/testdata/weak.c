/* An object cilium/ebpf's loader refuses (a weak map, as USDT objects carry): not bad input, its
   programs are answered `loader`. */
#include "bpf.h"

#define __uint(name, val) int (*name)[val]
#define __weak __attribute__((weak))

struct {
	__uint(type, 27); /* BPF_MAP_TYPE_RINGBUF */
	__uint(max_entries, 4096);
} events SEC(".maps") __weak;

static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size, __u64 flags) = (void *)130;

SEC("xdp")
int weak_xdp(void *ctx)
{
	__u64 v = 2;
	bpf_ringbuf_output(&events, &v, sizeof(v), 0);
	return 2;
}

char LICENSE[] SEC("license") = "GPL";
