/* A CO-RE field access to a struct member no kernel has. */
#include "bpf.h"

struct task_struct {
	int bpfmatrix_no_such_field;
} __attribute__((preserve_access_index));

SEC("kprobe/do_sys_openat2")
int read_missing_field(struct task_struct *t)
{
	return t->bpfmatrix_no_such_field;
}

char LICENSE[] SEC("license") = "GPL";
