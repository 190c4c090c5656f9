/* A kprobe with a ring buffer sized 0 in the object, as tools leave it for user space to size,
   and a map it does not use, which must not be created for it. */
#include "bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 12345);
} unused_bad SEC(".maps");

SEC("kprobe/do_sys_openat2")
int send_event(void *ctx)
{
	__u64 *e = bpf_ringbuf_reserve(&events, 8, 0);
	if (!e)
		return 0;
	*e = bpf_get_current_pid_tgid();
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
