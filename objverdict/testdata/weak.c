/* An object cilium/ebpf's loader refuses (a weak map, as USDT objects carry): not bad input, its
   programs are answered `loader`. */
#include "../../internal/testobjects/src/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps") __weak;

SEC("xdp")
int weak_xdp(void *ctx)
{
	__u64 v = 2;
	bpf_ringbuf_output(&events, &v, sizeof(v), 0);
	return 2;
}

char LICENSE[] SEC("license") = "GPL";
