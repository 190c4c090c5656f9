/* bpf_task_from_pid exists (6.2 on) but is not offered to socket filters. */
#include "bpf.h"

/* Completed, as cilium/ebpf wants before it loads a kfunc call: a struct only declared does not
   match the kernel's struct task_struct. */
struct task_struct {
	int pid;
};

SEC("socket")
int task_in_socket(void *skb)
{
	task_from_pid_and_release();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
