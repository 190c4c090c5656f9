/* A program in a section no loader knows: its type is unspecified, so no kernel is asked. */
#include "bpf.h"

SEC("bpfmatrix/no_such_kind")
int unknown_kind(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
