/* Loads on every kernel: an XDP program that passes every packet. */
#include "bpf.h"

SEC("xdp")
int pass(void *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
