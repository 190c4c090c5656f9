/* A kfunc no kernel has. */
#include "bpf.h"

extern void bpf_no_such_kfunc(void) __ksym;

SEC("tc")
int call_missing(void *skb)
{
	bpf_no_such_kfunc();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
