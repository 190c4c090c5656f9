/* bpf_override_return is defined everywhere, but offered to kprobes only. */
#include "bpf.h"

SEC("socket")
int override_in_socket(void *skb)
{
	return bpf_override_return(skb, 0);
}

char LICENSE[] SEC("license") = "GPL";
