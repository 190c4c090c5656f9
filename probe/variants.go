package probe

import "golang.org/x/sys/unix"

// targetKind says what a variant's attach_btf_id must point at.
type targetKind int

const (
	noTarget     targetKind = iota
	targetFunc              // a BTF Func: fentry/fexit/fmod_ret, lsm, iter (bpf_iter_<name>)
	targetTP                // a BTF Typedef btf_trace_<tracepoint>: tp_btf
	targetMember            // a member of a BTF Struct: struct_ops
	targetExt               // a global function of a BPF program we load ourselves: ext
)

// variantSpec describes one attach variant: a program type plus everything at load time that
// changes which helpers the kernel's get_func_proto offers (expected attach type, attach target,
// sleepable flag).
type variantSpec struct {
	progType string // registry / kernel name, e.g. "cgroup_sock_addr"
	name     string // short name, e.g. "connect4"; equal to progType when the type has one variant
	// attachType names the BPF_* constant of enum bpf_attach_type to pass as expected attach
	// type. A kernel whose BTF lacks it does not have the variant, unless attachOptional is set,
	// in which case 0 is passed: the kernel only started to require the value later.
	attachType     string
	attachOptional bool
	sleepable      bool
	target         targetKind
	// candidates are attach targets in order of preference; the first one the kernel both has
	// and accepts a trivial program for is used. Targets move between releases, so there are
	// fallbacks (security_* hooks take fmod_ret where the error injection list is missing).
	candidates []string
	member     string // struct_ops: the member of candidates[0] to implement
	// ret is the value the probe program returns: the verifier checks it against the attach
	// type's allowed range after the call: recvmsg, getpeername and getsockname hooks must return 1.
	ret int32
	// configs are kernel build options without which the variant cannot load (or, for the
	// sleepable tracing variants, without which its usual targets cannot be sleepable); an
	// unusable variant names those its kernel lacks.
	configs []string
}

// Attach targets. bpf_fentry_test1 and bpf_modify_return_test exist for the kernel's own
// selftests in every kernel from 5.5; bpf_modify_return_test is also on the error injection list
// (when CONFIG_FUNCTION_ERROR_INJECTION is set), which fmod_ret and sleepable fentry/fexit need.
// __x64_sys_getpgid is error-injectable through the syscall wrappers on the same condition.
var (
	fentryTargets  = []string{"bpf_fentry_test1", "bpf_modify_return_test", "security_file_open", "vfs_read"}
	fmodRetTargets = []string{"bpf_modify_return_test", "security_file_open", "security_task_alloc"}
	// bpf_fentry_test1 is in the kernel's modify-return set with KF_SLEEPABLE from 6.12 (or
	// earlier): sleepable tracing needs no error injection list there, which Debian's cloud
	// kernels are built without.
	sleepableTargets = []string{"bpf_modify_return_test", "__x64_sys_getpgid", "__arm64_sys_getpgid", "bpf_fentry_test1"}
	// bpf_lsm_bprm_committed_creds has been on the sleepable LSM hook list since that list
	// appeared (5.10); file_open is the hook most LSM programs use.
	lsmTargets          = []string{"bpf_lsm_file_open", "bpf_lsm_bprm_check_security"}
	lsmSleepableTargets = []string{"bpf_lsm_bprm_committed_creds", "bpf_lsm_file_open"}
	// Cgroup LSM programs on socket_post_create get bpf_setsockopt and bpf_getsockopt on top of
	// what every lsm_cgroup hook gets (6.0).
	lsmCgroupTargets = []string{"bpf_lsm_socket_post_create", "bpf_lsm_file_open"}
)

// variantSpecs is every variant the probe knows, in kernel prog type order. Types whose
// programs libbpf loads with an expected attach type (cgroup/dev, cgroup/sysctl, sockops,
// sk_msg, flow_dissector) are probed with it too: the kernel stores whatever it is given, and
// some helpers look at it (bpf_get_retval is refused at attach type 0, BPF_CGROUP_INET_INGRESS).
var variantSpecs = []variantSpec{
	{progType: "socket_filter", name: "socket_filter"},
	{progType: "kprobe", name: "kprobe"},
	// Sleepable uprobes (6.6) are the one kprobe-type variant that changes the answer: helpers
	// that may fault user memory in.
	{progType: "kprobe", name: "uprobe.s", attachType: "BPF_TRACE_UPROBE_MULTI", sleepable: true, configs: []string{"CONFIG_UPROBES"}},
	{progType: "sched_cls", name: "sched_cls"},
	{progType: "sched_act", name: "sched_act"},
	{progType: "tracepoint", name: "tracepoint"},
	{progType: "xdp", name: "xdp"},
	{progType: "perf_event", name: "perf_event"},
	{progType: "cgroup_skb", name: "ingress", attachType: "BPF_CGROUP_INET_INGRESS"},
	{progType: "cgroup_skb", name: "egress", attachType: "BPF_CGROUP_INET_EGRESS"},
	{progType: "cgroup_sock", name: "sock_create", attachType: "BPF_CGROUP_INET_SOCK_CREATE"},
	{progType: "cgroup_sock", name: "post_bind4", attachType: "BPF_CGROUP_INET4_POST_BIND"},
	{progType: "cgroup_sock", name: "post_bind6", attachType: "BPF_CGROUP_INET6_POST_BIND"},
	{progType: "cgroup_sock", name: "sock_release", attachType: "BPF_CGROUP_INET_SOCK_RELEASE"},
	{progType: "lwt_in", name: "lwt_in"},
	{progType: "lwt_out", name: "lwt_out"},
	{progType: "lwt_xmit", name: "lwt_xmit"},
	{progType: "sock_ops", name: "sock_ops", attachType: "BPF_CGROUP_SOCK_OPS", attachOptional: true},
	{progType: "sk_skb", name: "sk_skb"},
	{progType: "cgroup_device", name: "cgroup_device", attachType: "BPF_CGROUP_DEVICE", attachOptional: true},
	{progType: "sk_msg", name: "sk_msg", attachType: "BPF_SK_MSG_VERDICT", attachOptional: true},
	{progType: "raw_tracepoint", name: "raw_tracepoint"},
	{progType: "cgroup_sock_addr", name: "bind4", attachType: "BPF_CGROUP_INET4_BIND"},
	{progType: "cgroup_sock_addr", name: "bind6", attachType: "BPF_CGROUP_INET6_BIND"},
	{progType: "cgroup_sock_addr", name: "connect4", attachType: "BPF_CGROUP_INET4_CONNECT"},
	{progType: "cgroup_sock_addr", name: "connect6", attachType: "BPF_CGROUP_INET6_CONNECT"},
	{progType: "cgroup_sock_addr", name: "sendmsg4", attachType: "BPF_CGROUP_UDP4_SENDMSG"},
	{progType: "cgroup_sock_addr", name: "sendmsg6", attachType: "BPF_CGROUP_UDP6_SENDMSG"},
	{progType: "cgroup_sock_addr", name: "recvmsg4", ret: 1, attachType: "BPF_CGROUP_UDP4_RECVMSG"},
	{progType: "cgroup_sock_addr", name: "recvmsg6", ret: 1, attachType: "BPF_CGROUP_UDP6_RECVMSG"},
	{progType: "cgroup_sock_addr", name: "getpeername4", ret: 1, attachType: "BPF_CGROUP_INET4_GETPEERNAME"},
	{progType: "cgroup_sock_addr", name: "getpeername6", ret: 1, attachType: "BPF_CGROUP_INET6_GETPEERNAME"},
	{progType: "cgroup_sock_addr", name: "getsockname4", ret: 1, attachType: "BPF_CGROUP_INET4_GETSOCKNAME"},
	{progType: "cgroup_sock_addr", name: "getsockname6", ret: 1, attachType: "BPF_CGROUP_INET6_GETSOCKNAME"},
	{progType: "cgroup_sock_addr", name: "connect_unix", attachType: "BPF_CGROUP_UNIX_CONNECT"},
	{progType: "cgroup_sock_addr", name: "sendmsg_unix", attachType: "BPF_CGROUP_UNIX_SENDMSG"},
	{progType: "cgroup_sock_addr", name: "recvmsg_unix", ret: 1, attachType: "BPF_CGROUP_UNIX_RECVMSG"},
	{progType: "cgroup_sock_addr", name: "getpeername_unix", ret: 1, attachType: "BPF_CGROUP_UNIX_GETPEERNAME"},
	{progType: "cgroup_sock_addr", name: "getsockname_unix", ret: 1, attachType: "BPF_CGROUP_UNIX_GETSOCKNAME"},
	{progType: "lwt_seg6local", name: "lwt_seg6local"},
	{progType: "lirc_mode2", name: "lirc_mode2", configs: []string{"CONFIG_BPF_LIRC_MODE2"}},
	// 5.14 started to require an expected attach type for sk_reuseport; before, 0 is right.
	{progType: "sk_reuseport", name: "sk_reuseport", attachType: "BPF_SK_REUSEPORT_SELECT", attachOptional: true},
	{progType: "flow_dissector", name: "flow_dissector", attachType: "BPF_FLOW_DISSECTOR", attachOptional: true},
	{progType: "cgroup_sysctl", name: "cgroup_sysctl", attachType: "BPF_CGROUP_SYSCTL", attachOptional: true},
	{progType: "raw_tracepoint_writable", name: "raw_tracepoint_writable"},
	{progType: "cgroup_sockopt", name: "getsockopt", attachType: "BPF_CGROUP_GETSOCKOPT"},
	{progType: "cgroup_sockopt", name: "setsockopt", attachType: "BPF_CGROUP_SETSOCKOPT"},
	{progType: "tracing", name: "fentry", attachType: "BPF_TRACE_FENTRY", target: targetFunc, candidates: fentryTargets},
	{progType: "tracing", name: "fexit", attachType: "BPF_TRACE_FEXIT", target: targetFunc, candidates: fentryTargets},
	{progType: "tracing", name: "fmod_ret", attachType: "BPF_MODIFY_RETURN", target: targetFunc, candidates: fmodRetTargets},
	{progType: "tracing", name: "fentry.s", attachType: "BPF_TRACE_FENTRY", sleepable: true, target: targetFunc, candidates: sleepableTargets, configs: []string{"CONFIG_FUNCTION_ERROR_INJECTION"}},
	{progType: "tracing", name: "fexit.s", attachType: "BPF_TRACE_FEXIT", sleepable: true, target: targetFunc, candidates: sleepableTargets, configs: []string{"CONFIG_FUNCTION_ERROR_INJECTION"}},
	{progType: "tracing", name: "fmod_ret.s", attachType: "BPF_MODIFY_RETURN", sleepable: true, target: targetFunc, candidates: sleepableTargets, configs: []string{"CONFIG_FUNCTION_ERROR_INJECTION"}},
	{progType: "tracing", name: "tp_btf", attachType: "BPF_TRACE_RAW_TP", target: targetTP, candidates: []string{"btf_trace_sched_switch", "btf_trace_sched_process_exec"}},
	{progType: "tracing", name: "iter", attachType: "BPF_TRACE_ITER", target: targetFunc, candidates: []string{"bpf_iter_task", "bpf_iter_bpf_map"}},
	{progType: "tracing", name: "iter.s", attachType: "BPF_TRACE_ITER", sleepable: true, target: targetFunc, candidates: []string{"bpf_iter_task", "bpf_iter_bpf_map"}},
	// The tcp iterator adds bpf_setsockopt and bpf_getsockopt (5.13) to what iterators get.
	{progType: "tracing", name: "iter.tcp", attachType: "BPF_TRACE_ITER", target: targetFunc, candidates: []string{"bpf_iter_tcp"}},
	{progType: "struct_ops", name: "tcp_ca", target: targetMember, candidates: []string{"tcp_congestion_ops"}, member: "cong_avoid"},
	// release() is the one tcp_congestion_ops member that may not call bpf_setsockopt.
	{progType: "struct_ops", name: "tcp_ca.release", target: targetMember, candidates: []string{"tcp_congestion_ops"}, member: "release"},
	{progType: "ext", name: "ext", target: targetExt},
	{progType: "lsm", name: "lsm", attachType: "BPF_LSM_MAC", target: targetFunc, candidates: lsmTargets, configs: []string{"CONFIG_BPF_LSM"}},
	{progType: "lsm", name: "lsm.s", attachType: "BPF_LSM_MAC", sleepable: true, target: targetFunc, candidates: lsmSleepableTargets, configs: []string{"CONFIG_BPF_LSM"}},
	{progType: "lsm", name: "lsm_cgroup", attachType: "BPF_LSM_CGROUP", target: targetFunc, candidates: lsmCgroupTargets, configs: []string{"CONFIG_BPF_LSM"}},
	{progType: "sk_lookup", name: "sk_lookup", attachType: "BPF_SK_LOOKUP"},
	// Syscall programs must be sleepable ("Syscall programs can only be sleepable").
	{progType: "syscall", name: "syscall", sleepable: true},
	{progType: "netfilter", name: "netfilter", attachType: "BPF_NETFILTER", configs: []string{"CONFIG_NETFILTER_BPF_LINK"}},
}

// uapiAttachTypes are the values of enum bpf_attach_type, used only on a kernel without BTF
// (where the enum cannot be read). They are part of the kernel's ABI and never change.
var uapiAttachTypes = map[string]uint32{
	"BPF_CGROUP_INET_INGRESS":      unix.BPF_CGROUP_INET_INGRESS,
	"BPF_CGROUP_INET_EGRESS":       unix.BPF_CGROUP_INET_EGRESS,
	"BPF_CGROUP_INET_SOCK_CREATE":  unix.BPF_CGROUP_INET_SOCK_CREATE,
	"BPF_CGROUP_INET4_POST_BIND":   unix.BPF_CGROUP_INET4_POST_BIND,
	"BPF_CGROUP_INET6_POST_BIND":   unix.BPF_CGROUP_INET6_POST_BIND,
	"BPF_CGROUP_INET_SOCK_RELEASE": unix.BPF_CGROUP_INET_SOCK_RELEASE,
	"BPF_CGROUP_INET4_BIND":        unix.BPF_CGROUP_INET4_BIND,
	"BPF_CGROUP_INET6_BIND":        unix.BPF_CGROUP_INET6_BIND,
	"BPF_CGROUP_INET4_CONNECT":     unix.BPF_CGROUP_INET4_CONNECT,
	"BPF_CGROUP_INET6_CONNECT":     unix.BPF_CGROUP_INET6_CONNECT,
	"BPF_CGROUP_UDP4_SENDMSG":      unix.BPF_CGROUP_UDP4_SENDMSG,
	"BPF_CGROUP_UDP6_SENDMSG":      unix.BPF_CGROUP_UDP6_SENDMSG,
	"BPF_CGROUP_UDP4_RECVMSG":      unix.BPF_CGROUP_UDP4_RECVMSG,
	"BPF_CGROUP_UDP6_RECVMSG":      unix.BPF_CGROUP_UDP6_RECVMSG,
	"BPF_CGROUP_INET4_GETPEERNAME": unix.BPF_CGROUP_INET4_GETPEERNAME,
	"BPF_CGROUP_INET6_GETPEERNAME": unix.BPF_CGROUP_INET6_GETPEERNAME,
	"BPF_CGROUP_INET4_GETSOCKNAME": unix.BPF_CGROUP_INET4_GETSOCKNAME,
	"BPF_CGROUP_INET6_GETSOCKNAME": unix.BPF_CGROUP_INET6_GETSOCKNAME,
	"BPF_CGROUP_UNIX_CONNECT":      49,
	"BPF_CGROUP_UNIX_SENDMSG":      50,
	"BPF_CGROUP_UNIX_RECVMSG":      51,
	"BPF_CGROUP_UNIX_GETPEERNAME":  52,
	"BPF_CGROUP_UNIX_GETSOCKNAME":  53,
	"BPF_SK_REUSEPORT_SELECT":      unix.BPF_SK_REUSEPORT_SELECT,
	"BPF_CGROUP_SOCK_OPS":          unix.BPF_CGROUP_SOCK_OPS,
	"BPF_CGROUP_DEVICE":            unix.BPF_CGROUP_DEVICE,
	"BPF_SK_MSG_VERDICT":           unix.BPF_SK_MSG_VERDICT,
	"BPF_FLOW_DISSECTOR":           unix.BPF_FLOW_DISSECTOR,
	"BPF_CGROUP_SYSCTL":            unix.BPF_CGROUP_SYSCTL,
	"BPF_CGROUP_GETSOCKOPT":        unix.BPF_CGROUP_GETSOCKOPT,
	"BPF_CGROUP_SETSOCKOPT":        unix.BPF_CGROUP_SETSOCKOPT,
	"BPF_TRACE_FENTRY":             unix.BPF_TRACE_FENTRY,
	"BPF_TRACE_FEXIT":              unix.BPF_TRACE_FEXIT,
	"BPF_MODIFY_RETURN":            unix.BPF_MODIFY_RETURN,
	"BPF_TRACE_RAW_TP":             unix.BPF_TRACE_RAW_TP,
	"BPF_TRACE_ITER":               unix.BPF_TRACE_ITER,
	"BPF_TRACE_UPROBE_MULTI":       unix.BPF_TRACE_UPROBE_MULTI,
	"BPF_LSM_MAC":                  unix.BPF_LSM_MAC,
	"BPF_LSM_CGROUP":               unix.BPF_LSM_CGROUP,
	"BPF_SK_LOOKUP":                unix.BPF_SK_LOOKUP,
	"BPF_NETFILTER":                unix.BPF_NETFILTER,
}
