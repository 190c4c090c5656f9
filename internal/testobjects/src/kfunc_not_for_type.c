/* bpf_task_from_pid exists (6.2 on) but is not offered to socket filters. */
#include "bpf.h"

struct task_struct {
	int pid;
};
extern struct task_struct *bpf_task_from_pid(int pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

SEC("socket")
int task_in_socket(void *skb)
{
	struct task_struct *t = bpf_task_from_pid(1);
	if (t)
		bpf_task_release(t);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
