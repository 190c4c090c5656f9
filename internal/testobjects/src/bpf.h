/* The few definitions the test objects need, in place of libbpf's headers, which the machines
   that build them need not have. The test sources of bpfobj and objverdict, which their tests
   compile with clang, include this file too. */
typedef unsigned char __u8;
typedef int __s32;
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __ksym __attribute__((section(".ksyms")))
#define __kconfig __attribute__((section(".kconfig")))
#define __weak __attribute__((weak))
#define __noinline __attribute__((noinline))

#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_STACK_TRACE 7
#define BPF_MAP_TYPE_RINGBUF 27
#define LIBBPF_PIN_BY_NAME 1

#define XDP_PASS 2

/* A program whose body does nothing: only its section, what type, attach type and target it
   names, is under test. */
#define EMPTY_PROG(sec, name) \
	SEC(sec) int name(void *ctx) { return 0; }

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *)6;
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)113;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, __u64 size, __u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, __u64 flags) = (void *)132;
static long (*bpf_get_stackid)(void *ctx, void *map, __u64 flags) = (void *)27;
static long (*bpf_override_return)(void *regs, __u64 rc) = (void *)58;
static long (*bpf_xdp_adjust_head)(void *xdp, int delta) = (void *)44;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size, __u64 flags) = (void *)130;
static long (*bpf_loop)(__u32 nr, void *callback, void *ctx, __u64 flags) = (void *)181;
/* The guide's example: a helper id no kernel defines. */
static long (*bpf_not_defined)(void) = (void *)999;

/* A kfunc that not every kernel has nor offers to every program type; the verifier wants the
   reference it returns released. An object that is loaded must complete struct task_struct:
   cilium/ebpf refuses a kfunc whose prototype names a struct only declared. */
struct task_struct;
extern struct task_struct *bpf_task_from_pid(__s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

/* Takes a reference to task 1 and drops it: the calls of bpf_task_from_pid a program makes. */
static inline __attribute__((always_inline)) void task_from_pid_and_release(void)
{
	struct task_struct *t = bpf_task_from_pid(1);
	if (t)
		bpf_task_release(t);
}
