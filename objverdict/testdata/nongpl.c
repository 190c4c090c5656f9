/* A program under a license the kernel does not take as GPL-compatible, calling a GPL-only
   helper. */
#include "../../internal/testobjects/src/bpf.h"

SEC("kprobe/do_unlinkat")
int read_kernel(void *ctx)
{
	__u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), ctx);
	return v & 1;
}

SEC("xdp")
int plain_xdp(void *ctx)
{
	return 2;
}

char LICENSE[] SEC("license") = "Proprietary";
