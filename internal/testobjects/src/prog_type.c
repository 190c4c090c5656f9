/* Program types some kernels lack or cannot load: an LSM program needs BPF trampolines and the
 * BPF LSM (this machine's Firecracker kernel has neither); syscall programs arrived in 5.14 and
 * netfilter programs in 6.4, so 5.10 refuses both before its verifier says a word. */
#include "bpf.h"

EMPTY_PROG("lsm/file_open", lsm_open)
EMPTY_PROG("syscall", syscall_prog)

SEC("netfilter")
int netfilter_prog(void *ctx)
{
	return 1; /* NF_ACCEPT */
}

char LICENSE[] SEC("license") = "GPL";
