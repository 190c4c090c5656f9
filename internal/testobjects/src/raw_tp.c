/* A raw tracepoint program: loads and attaches without tracefs. */
#include "bpf.h"

SEC("raw_tp/sys_enter")
int on_sys_enter(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
