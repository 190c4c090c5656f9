/* The running kernel's version as libbpf-tools declare it (a __u32 typedef, which cilium/ebpf's own
   .kconfig resolution refuses): a loader fills it in from uname, no configuration needed. */
#include "bpf.h"

extern __u32 LINUX_KERNEL_VERSION __kconfig;

SEC("xdp")
int version_parity(void *ctx)
{
	return (LINUX_KERNEL_VERSION >> 16) ? XDP_PASS : 1; /* XDP_DROP before any release */
}

char LICENSE[] SEC("license") = "GPL";
