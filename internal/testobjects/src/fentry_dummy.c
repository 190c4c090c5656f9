/* As tools ship fentry programs: aimed at a placeholder the tool retargets when it starts. */
#include "bpf.h"

EMPTY_PROG("fentry/dummy_fentry", retargeted)
EMPTY_PROG("kprobe/dummy_kprobe", retargeted_kprobe)

char LICENSE[] SEC("license") = "GPL";
