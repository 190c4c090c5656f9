/* As tools ship fentry programs: aimed at a placeholder the tool retargets when it starts. */
#include "bpf.h"

SEC("fentry/dummy_fentry")
int retargeted(void *ctx)
{
	return 0;
}

SEC("kprobe/dummy_kprobe")
int retargeted_kprobe(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
