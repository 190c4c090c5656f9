/* The guide's own example: a kprobe that calls a helper with an id no kernel defines. */
#include "bpf.h"

SEC("kprobe/do_sys_openat2")
int new_helper(void *ctx)
{
	return bpf_not_defined();
}

char LICENSE[] SEC("license") = "GPL";
