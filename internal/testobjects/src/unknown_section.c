/* A program in a section no loader knows: its type is unspecified, so no kernel is asked. */
#include "bpf.h"

EMPTY_PROG("bpfmatrix/no_such_kind", unknown_kind)

char LICENSE[] SEC("license") = "GPL";
