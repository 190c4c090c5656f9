/* A global subprogram that returns a pointer: the kernel checks a global function against its
   BTF and takes only those returning a scalar (or nothing). */
#include "bpf.h"

__attribute__((noinline)) char *pick(char *p, int i)
{
	return p + i;
}

SEC("xdp")
int call_pick(void *ctx)
{
	return (long)pick((char *)ctx, 2) & 1;
}

char LICENSE[] SEC("license") = "GPL";
