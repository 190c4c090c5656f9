/* The few definitions the test objects need, in place of libbpf's headers, which the machines
   that run the tests need not have. */
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __ksym __attribute__((section(".ksyms")))

static long (*bpf_loop)(__u32 nr, void *callback, void *ctx, __u64 flags) = (void *)181;
static long (*bpf_xdp_adjust_head)(void *xdp, int delta) = (void *)44;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)113;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
/* The guide's example: a helper id no kernel defines. */
static long (*bpf_not_defined)(void) = (void *)999;
