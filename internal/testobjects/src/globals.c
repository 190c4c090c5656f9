/* Global variables, as most tools have them: a constant user space sets before loading
   (.rodata) and a counter (.bss), each a map the program references. */
#include "bpf.h"

const volatile __u32 filter_pid = 0;
__u64 hits;

SEC("xdp")
int count_packets(void *ctx)
{
	if (filter_pid == 0)
		__sync_fetch_and_add(&hits, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
