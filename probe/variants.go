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
	// section is the libbpf section a user would write for the variant: its key
	// (registry.AttachPointKey) is the attach point the variant answers for.
	section string
	// expand marks the placeholder that New replaces by the struct_ops variants it discovers in
	// the kernel's BTF (structops.go).
	expand bool
	// discovered marks a variant that exists only on kernels that have it: where the kernel's
	// enum lacks its attach type, or a trivial program does not load there, the variant is left
	// out of the probe, not reported unusable.
	discovered bool
	// helpers and kfuncs say which functions the variant is asked about (scope.go).
	helpers, kfuncs scope
	// kind is the struct_ops kind of a discovered struct_ops variant; sentinel marks the one
	// variant of the kind that answers for the kind as a whole.
	kind     string
	sentinel bool
	// only are, for the struct_ops placeholder, the kinds and KIND.MEMBER names its selectors
	// chose ("struct_ops/sched_ext_ops"); empty for every kind.
	only []string
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
	{progType: "socket_filter", name: "socket_filter", section: "socket"},
	{progType: "kprobe", name: "kprobe", section: "kprobe"},
	// Sleepable uprobes (6.6) are the one kprobe-type variant that changes the answer: helpers
	// that may fault user memory in.
	{progType: "kprobe", name: "uprobe.s", section: "uprobe.s", attachType: "BPF_TRACE_UPROBE_MULTI", sleepable: true, configs: []string{"CONFIG_UPROBES"}},
	// Multi and session attach types (6.0 to 6.16): session probes get bpf_session_cookie and
	// bpf_session_is_return, multi probes their own bpf_get_func_ip and cookie.
	{progType: "kprobe", name: "kprobe.multi", section: "kprobe.multi", attachType: "BPF_TRACE_KPROBE_MULTI", discovered: true, kfuncs: scopeTarget},
	{progType: "kprobe", name: "kprobe.session", section: "kprobe.session", attachType: "BPF_TRACE_KPROBE_SESSION", discovered: true, kfuncs: scopeTarget},
	{progType: "kprobe", name: "uprobe.multi", section: "uprobe.multi", attachType: "BPF_TRACE_UPROBE_MULTI", discovered: true, kfuncs: scopeTarget},
	{progType: "kprobe", name: "uprobe.session", section: "uprobe.session", attachType: "BPF_TRACE_UPROBE_SESSION", discovered: true, kfuncs: scopeTarget},
	{progType: "sched_cls", name: "sched_cls", section: "tc"},
	{progType: "sched_act", name: "sched_act", section: "action"},
	{progType: "tracepoint", name: "tracepoint", section: "tracepoint"},
	{progType: "xdp", name: "xdp", section: "xdp"},
	{progType: "perf_event", name: "perf_event", section: "perf_event"},
	{progType: "cgroup_skb", name: "ingress", section: "cgroup_skb/ingress", attachType: "BPF_CGROUP_INET_INGRESS"},
	{progType: "cgroup_skb", name: "egress", section: "cgroup_skb/egress", attachType: "BPF_CGROUP_INET_EGRESS"},
	{progType: "cgroup_sock", name: "sock_create", section: "cgroup/sock_create", attachType: "BPF_CGROUP_INET_SOCK_CREATE"},
	{progType: "cgroup_sock", name: "post_bind4", section: "cgroup/post_bind4", attachType: "BPF_CGROUP_INET4_POST_BIND"},
	{progType: "cgroup_sock", name: "post_bind6", section: "cgroup/post_bind6", attachType: "BPF_CGROUP_INET6_POST_BIND"},
	{progType: "cgroup_sock", name: "sock_release", section: "cgroup/sock_release", attachType: "BPF_CGROUP_INET_SOCK_RELEASE"},
	{progType: "lwt_in", name: "lwt_in", section: "lwt_in"},
	{progType: "lwt_out", name: "lwt_out", section: "lwt_out"},
	{progType: "lwt_xmit", name: "lwt_xmit", section: "lwt_xmit"},
	{progType: "sock_ops", name: "sock_ops", section: "sockops", attachType: "BPF_CGROUP_SOCK_OPS", attachOptional: true},
	{progType: "sk_skb", name: "sk_skb", section: "sk_skb"},
	{progType: "cgroup_device", name: "cgroup_device", section: "cgroup/dev", attachType: "BPF_CGROUP_DEVICE", attachOptional: true},
	{progType: "sk_msg", name: "sk_msg", section: "sk_msg", attachType: "BPF_SK_MSG_VERDICT", attachOptional: true},
	{progType: "raw_tracepoint", name: "raw_tracepoint", section: "raw_tracepoint"},
	{progType: "cgroup_sock_addr", name: "bind4", section: "cgroup/bind4", attachType: "BPF_CGROUP_INET4_BIND"},
	{progType: "cgroup_sock_addr", name: "bind6", section: "cgroup/bind6", attachType: "BPF_CGROUP_INET6_BIND"},
	{progType: "cgroup_sock_addr", name: "connect4", section: "cgroup/connect4", attachType: "BPF_CGROUP_INET4_CONNECT"},
	{progType: "cgroup_sock_addr", name: "connect6", section: "cgroup/connect6", attachType: "BPF_CGROUP_INET6_CONNECT"},
	{progType: "cgroup_sock_addr", name: "sendmsg4", section: "cgroup/sendmsg4", attachType: "BPF_CGROUP_UDP4_SENDMSG"},
	{progType: "cgroup_sock_addr", name: "sendmsg6", section: "cgroup/sendmsg6", attachType: "BPF_CGROUP_UDP6_SENDMSG"},
	{progType: "cgroup_sock_addr", name: "recvmsg4", section: "cgroup/recvmsg4", ret: 1, attachType: "BPF_CGROUP_UDP4_RECVMSG"},
	{progType: "cgroup_sock_addr", name: "recvmsg6", section: "cgroup/recvmsg6", ret: 1, attachType: "BPF_CGROUP_UDP6_RECVMSG"},
	{progType: "cgroup_sock_addr", name: "getpeername4", section: "cgroup/getpeername4", ret: 1, attachType: "BPF_CGROUP_INET4_GETPEERNAME"},
	{progType: "cgroup_sock_addr", name: "getpeername6", section: "cgroup/getpeername6", ret: 1, attachType: "BPF_CGROUP_INET6_GETPEERNAME"},
	{progType: "cgroup_sock_addr", name: "getsockname4", section: "cgroup/getsockname4", ret: 1, attachType: "BPF_CGROUP_INET4_GETSOCKNAME"},
	{progType: "cgroup_sock_addr", name: "getsockname6", section: "cgroup/getsockname6", ret: 1, attachType: "BPF_CGROUP_INET6_GETSOCKNAME"},
	{progType: "cgroup_sock_addr", name: "connect_unix", section: "cgroup/connect_unix", attachType: "BPF_CGROUP_UNIX_CONNECT"},
	{progType: "cgroup_sock_addr", name: "sendmsg_unix", section: "cgroup/sendmsg_unix", attachType: "BPF_CGROUP_UNIX_SENDMSG"},
	{progType: "cgroup_sock_addr", name: "recvmsg_unix", section: "cgroup/recvmsg_unix", ret: 1, attachType: "BPF_CGROUP_UNIX_RECVMSG"},
	{progType: "cgroup_sock_addr", name: "getpeername_unix", section: "cgroup/getpeername_unix", ret: 1, attachType: "BPF_CGROUP_UNIX_GETPEERNAME"},
	{progType: "cgroup_sock_addr", name: "getsockname_unix", section: "cgroup/getsockname_unix", ret: 1, attachType: "BPF_CGROUP_UNIX_GETSOCKNAME"},
	{progType: "lwt_seg6local", name: "lwt_seg6local", section: "lwt_seg6local"},
	{progType: "lirc_mode2", name: "lirc_mode2", section: "lirc_mode2", configs: []string{"CONFIG_BPF_LIRC_MODE2"}},
	// 5.14 started to require an expected attach type for sk_reuseport; before, 0 is right.
	{progType: "sk_reuseport", name: "sk_reuseport", section: "sk_reuseport", attachType: "BPF_SK_REUSEPORT_SELECT", attachOptional: true},
	{progType: "flow_dissector", name: "flow_dissector", section: "flow_dissector", attachType: "BPF_FLOW_DISSECTOR", attachOptional: true},
	{progType: "cgroup_sysctl", name: "cgroup_sysctl", section: "cgroup/sysctl", attachType: "BPF_CGROUP_SYSCTL", attachOptional: true},
	{progType: "raw_tracepoint_writable", name: "raw_tracepoint_writable", section: "raw_tracepoint.w"},
	{progType: "cgroup_sockopt", name: "getsockopt", section: "cgroup/getsockopt", attachType: "BPF_CGROUP_GETSOCKOPT"},
	{progType: "cgroup_sockopt", name: "setsockopt", section: "cgroup/setsockopt", attachType: "BPF_CGROUP_SETSOCKOPT"},
	{progType: "tracing", name: "fentry", section: "fentry", attachType: "BPF_TRACE_FENTRY", target: targetFunc, candidates: fentryTargets},
	{progType: "tracing", name: "fexit", section: "fexit", attachType: "BPF_TRACE_FEXIT", target: targetFunc, candidates: fentryTargets},
	{progType: "tracing", name: "fmod_ret", section: "fmod_ret", attachType: "BPF_MODIFY_RETURN", target: targetFunc, candidates: fmodRetTargets},
	{progType: "tracing", name: "fentry.s", section: "fentry.s", attachType: "BPF_TRACE_FENTRY", sleepable: true, target: targetFunc, candidates: sleepableTargets, configs: []string{"CONFIG_FUNCTION_ERROR_INJECTION"}},
	{progType: "tracing", name: "fexit.s", section: "fexit.s", attachType: "BPF_TRACE_FEXIT", sleepable: true, target: targetFunc, candidates: sleepableTargets, configs: []string{"CONFIG_FUNCTION_ERROR_INJECTION"}},
	{progType: "tracing", name: "fmod_ret.s", section: "fmod_ret.s", attachType: "BPF_MODIFY_RETURN", sleepable: true, target: targetFunc, candidates: sleepableTargets, configs: []string{"CONFIG_FUNCTION_ERROR_INJECTION"}},
	{progType: "tracing", name: "tp_btf", section: "tp_btf", attachType: "BPF_TRACE_RAW_TP", target: targetTP, candidates: []string{"btf_trace_sched_switch", "btf_trace_sched_process_exec"}},
	{progType: "tracing", name: "iter", section: "iter", attachType: "BPF_TRACE_ITER", target: targetFunc, candidates: []string{"bpf_iter_task", "bpf_iter_bpf_map"}},
	{progType: "tracing", name: "iter.s", section: "iter.s", attachType: "BPF_TRACE_ITER", sleepable: true, target: targetFunc, candidates: []string{"bpf_iter_task", "bpf_iter_bpf_map"}},
	// The tcp iterator adds bpf_setsockopt and bpf_getsockopt (5.13) to what iterators get.
	{progType: "tracing", name: "iter.tcp", section: "iter/tcp", attachType: "BPF_TRACE_ITER", target: targetFunc, candidates: []string{"bpf_iter_tcp"}, kfuncs: scopeTarget},
	// Attach types that change what a program may call, probed where the kernel's enum has them.
	{progType: "tracing", name: "fsession", section: "fsession", attachType: "BPF_TRACE_FSESSION", target: targetFunc, candidates: fentryTargets, discovered: true, kfuncs: scopeTarget},
	{progType: "tracing", name: "fentry.multi", section: "fentry.multi", attachType: "BPF_TRACE_FENTRY_MULTI", target: targetFunc, candidates: fentryTargets, discovered: true, kfuncs: scopeTarget},
	{progType: "tracing", name: "fexit.multi", section: "fexit.multi", attachType: "BPF_TRACE_FEXIT_MULTI", target: targetFunc, candidates: fentryTargets, discovered: true, kfuncs: scopeTarget},
	{progType: "tracing", name: "fsession.multi", section: "fsession.multi", attachType: "BPF_TRACE_FSESSION_MULTI", target: targetFunc, candidates: fentryTargets, discovered: true, kfuncs: scopeTarget},
	// Attach-target rules (scope.go): d_path is allowed at the functions on its allowlist only
	// (dentry_open is on it, d_path itself is not); bpf_sock_destroy only in the tcp and udp socket
	// iterators, not at the tcp_destroy_sock tracepoint.
	{progType: "tracing", name: "fentry.dentry_open", section: "fentry/dentry_open", attachType: "BPF_TRACE_FENTRY", target: targetFunc, candidates: []string{"dentry_open"}, discovered: true, helpers: scopeTarget, kfuncs: scopeTarget},
	{progType: "tracing", name: "fentry.d_path", section: "fentry/d_path", attachType: "BPF_TRACE_FENTRY", target: targetFunc, candidates: []string{"d_path"}, discovered: true, helpers: scopeTarget, kfuncs: scopeTarget},
	{progType: "tracing", name: "iter.udp", section: "iter/udp", attachType: "BPF_TRACE_ITER", target: targetFunc, candidates: []string{"bpf_iter_udp"}, discovered: true, helpers: scopeTarget, kfuncs: scopeTarget},
	{progType: "tracing", name: "tp_btf.tcp_destroy_sock", section: "tp_btf/tcp_destroy_sock", attachType: "BPF_TRACE_RAW_TP", target: targetTP, candidates: []string{"btf_trace_tcp_destroy_sock"}, discovered: true, helpers: scopeTarget, kfuncs: scopeTarget},
	// Stands for every struct_ops kind the kernel's BTF declares, with its members: New expands
	// it (structops.go).
	{progType: "struct_ops", name: "struct_ops", section: "struct_ops", target: targetMember, expand: true},
	{progType: "ext", name: "ext", section: "freplace", target: targetExt},
	{progType: "lsm", name: "lsm", section: "lsm", attachType: "BPF_LSM_MAC", target: targetFunc, candidates: lsmTargets, configs: []string{"CONFIG_BPF_LSM"}},
	{progType: "lsm", name: "lsm.s", section: "lsm.s", attachType: "BPF_LSM_MAC", sleepable: true, target: targetFunc, candidates: lsmSleepableTargets, configs: []string{"CONFIG_BPF_LSM"}},
	{progType: "lsm", name: "lsm_cgroup", section: "lsm_cgroup", attachType: "BPF_LSM_CGROUP", target: targetFunc, candidates: lsmCgroupTargets, configs: []string{"CONFIG_BPF_LSM"}},
	{progType: "sk_lookup", name: "sk_lookup", section: "sk_lookup", attachType: "BPF_SK_LOOKUP"},
	// Syscall programs must be sleepable ("Syscall programs can only be sleepable").
	{progType: "syscall", name: "syscall", section: "syscall", sleepable: true},
	{progType: "netfilter", name: "netfilter", section: "netfilter", attachType: "BPF_NETFILTER", configs: []string{"CONFIG_NETFILTER_BPF_LINK"}},
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
	"BPF_TRACE_KPROBE_MULTI":       unix.BPF_TRACE_KPROBE_MULTI,
	"BPF_LSM_MAC":                  unix.BPF_LSM_MAC,
	"BPF_LSM_CGROUP":               unix.BPF_LSM_CGROUP,
	"BPF_SK_LOOKUP":                unix.BPF_SK_LOOKUP,
	"BPF_NETFILTER":                unix.BPF_NETFILTER,
}
