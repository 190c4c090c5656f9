/* Attach targets no kernel has: a tracing program and a BTF tracepoint. */
#include "bpf.h"

EMPTY_PROG("fentry/bpfmatrix_no_such_function", fentry_missing)
EMPTY_PROG("tp_btf/bpfmatrix_no_such_event", tp_btf_missing)

char LICENSE[] SEC("license") = "GPL";
