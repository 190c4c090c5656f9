/* Attach targets no kernel has: a tracing program and a BTF tracepoint. */
#include "bpf.h"

SEC("fentry/bpfmatrix_no_such_function")
int fentry_missing(void *ctx)
{
	return 0;
}

SEC("tp_btf/bpfmatrix_no_such_event")
int tp_btf_missing(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
