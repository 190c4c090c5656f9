package registry

// KnownProgTypes lists the kernel's BPF program types by the names the registry uses: the
// BPF_PROG_TYPE_ constant in lower case without its prefix. The index of a name is its value in
// the kernel's enum bpf_prog_type, which is what BPF_PROG_LOAD takes.
var KnownProgTypes = []string{
	"unspec", // 0: never a valid program type; kept so that indexes match the kernel's enum
	"socket_filter",
	"kprobe",
	"sched_cls",
	"sched_act",
	"tracepoint",
	"xdp",
	"perf_event",
	"cgroup_skb",
	"cgroup_sock",
	"lwt_in",
	"lwt_out",
	"lwt_xmit",
	"sock_ops",
	"sk_skb",
	"cgroup_device",
	"sk_msg",
	"raw_tracepoint",
	"cgroup_sock_addr",
	"lwt_seg6local",
	"lirc_mode2",
	"sk_reuseport",
	"flow_dissector",
	"cgroup_sysctl",
	"raw_tracepoint_writable",
	"cgroup_sockopt",
	"tracing",
	"struct_ops",
	"ext",
	"lsm",
	"sk_lookup",
	"syscall",
	"netfilter",
}

var progTypeIndex = func() map[string]uint32 {
	m := make(map[string]uint32, len(KnownProgTypes))
	for i, n := range KnownProgTypes[1:] {
		m[n] = uint32(i + 1)
	}
	return m
}()

// ProgTypeID returns the kernel's enum bpf_prog_type value for a registry prog type name, and
// false for a name the kernel does not define (including "unspec").
func ProgTypeID(name string) (uint32, bool) {
	id, ok := progTypeIndex[name]
	return id, ok
}

// ProgTypeNames returns the valid program type names, in kernel enum order, without "unspec".
func ProgTypeNames() []string {
	return append([]string(nil), KnownProgTypes[1:]...)
}

// Categories the registry accepts. The first eleven are the seed's; the rest exist because no
// seed category fits the helpers they hold (README.md explains each).
var knownCategories = []string{
	"map", "network", "probe", "trace", "time", "info", "debug", "socket", "xdp", "perf", "ringbuf",
	"cgroup", "storage", "sync", "string", "dynptr", "lsm", "sysctl",
}

// KnownCategories returns every category name the loader accepts, seed categories first.
func KnownCategories() []string { return append([]string(nil), knownCategories...) }

func isKnownCategory(c string) bool {
	for _, k := range knownCategories {
		if k == c {
			return true
		}
	}
	return false
}
