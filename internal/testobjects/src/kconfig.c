/* Externs from the running kernel's configuration. */
#include "bpf.h"

extern int CONFIG_HZ __kconfig;
extern unsigned int LINUX_KERNEL_VERSION __kconfig;

SEC("kprobe/do_sys_openat2")
int config_values(void *ctx)
{
	return (CONFIG_HZ + LINUX_KERNEL_VERSION) & 1;
}


/* Returns CONFIG_HZ, so that a test can run it and see the value the loader gave. */
SEC("xdp")
int config_hz(void *ctx)
{
	return CONFIG_HZ;
}

char LICENSE[] SEC("license") = "GPL";
