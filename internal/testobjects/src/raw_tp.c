/* A raw tracepoint program: loads and attaches without tracefs. */
#include "bpf.h"

EMPTY_PROG("raw_tp/sys_enter", on_sys_enter)

char LICENSE[] SEC("license") = "GPL";
