/* An LSM program: the kernel needs BPF trampolines (and the bpf LSM) to load it. */
#include "bpf.h"

SEC("lsm/file_open")
int lsm_open(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
