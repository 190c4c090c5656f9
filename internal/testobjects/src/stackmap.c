/* A stack map as profiling tools declare it: no value size and no size in the object, both set
   by user space from the kernel's perf_event_max_stack when the tool starts. */
#include "bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
} stacks SEC(".maps");

SEC("kprobe/do_sys_openat2")
int take_stack(void *ctx)
{
	bpf_get_stackid(ctx, &stacks, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
