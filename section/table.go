package section

// match says how a row's prefix matches a section name, as libbpf matches its own table: a
// plain row only the exact name, a "+" row (libbpf writes "kprobe+") the exact name or the
// prefix followed by '/' and an attach target.
type match uint8

const (
	exact match = iota
	plus
)

// row is one entry of the section table: a prefix and what a section starting with it means.
type row struct {
	prefix   string
	match    match
	progType string // registry name of the program type (registry.KnownProgTypes)
	// attach is the enum bpf_attach_type name passed as expected attach type, "" for none (0).
	attach string
	flags  flags
	target TargetKind // what the text after "prefix/" names
	// canonical is the prefix this one is another spelling of ("tp" for "tracepoint"), "" when
	// the row is its own canonical spelling.
	canonical string
	// progTypeName marks a bare program type name as the registry and the CLI spell it, which
	// libbpf does not know as a section: it stands for the type's default attachment.
	progTypeName bool
}

// flags are the load-time facts of a row besides its types.
type flags uint8

const (
	// attachOpt: libbpf loads with expected attach type 0 when the kernel lacks the type's
	// attach type (for usdt: when it lacks uprobe multi links).
	attachOpt flags = 1 << iota
	sleepable
	frags // BPF_F_XDP_HAS_FRAGS
)

// libbpfRows are libbpf's own section definitions (src/libbpf.c, section_defs, as of mid-2026),
// in libbpf's order: the first matching row wins, so "sk_reuseport/migrate" precedes
// "sk_reuseport" and "xdp.frags/devmap" precedes "xdp.frags". libbpf's legacy "attachable" flag
// is left out: libbpf itself no longer reads it.
var libbpfRows = []row{
	{prefix: "socket", progType: "socket_filter"},
	{prefix: "sk_reuseport/migrate", progType: "sk_reuseport", attach: "BPF_SK_REUSEPORT_SELECT_OR_MIGRATE"},
	{prefix: "sk_reuseport", progType: "sk_reuseport", attach: "BPF_SK_REUSEPORT_SELECT"},
	{prefix: "kprobe", match: plus, progType: "kprobe", target: KernelSymbol},
	{prefix: "uprobe", match: plus, progType: "kprobe", target: UserProbe},
	{prefix: "uprobe.s", match: plus, progType: "kprobe", flags: sleepable, target: UserProbe},
	{prefix: "kretprobe", match: plus, progType: "kprobe", target: KernelSymbol},
	{prefix: "uretprobe", match: plus, progType: "kprobe", target: UserProbe},
	{prefix: "uretprobe.s", match: plus, progType: "kprobe", flags: sleepable, target: UserProbe},
	{prefix: "kprobe.multi", match: plus, progType: "kprobe", attach: "BPF_TRACE_KPROBE_MULTI", target: KernelSymbolPattern},
	{prefix: "kretprobe.multi", match: plus, progType: "kprobe", attach: "BPF_TRACE_KPROBE_MULTI", target: KernelSymbolPattern},
	{prefix: "kprobe.session", match: plus, progType: "kprobe", attach: "BPF_TRACE_KPROBE_SESSION", target: KernelSymbolPattern},
	{prefix: "uprobe.multi", match: plus, progType: "kprobe", attach: "BPF_TRACE_UPROBE_MULTI", target: UserProbe},
	{prefix: "uretprobe.multi", match: plus, progType: "kprobe", attach: "BPF_TRACE_UPROBE_MULTI", target: UserProbe},
	{prefix: "uprobe.session", match: plus, progType: "kprobe", attach: "BPF_TRACE_UPROBE_SESSION", target: UserProbe},
	{prefix: "uprobe.multi.s", match: plus, progType: "kprobe", attach: "BPF_TRACE_UPROBE_MULTI", flags: sleepable, target: UserProbe},
	{prefix: "uretprobe.multi.s", match: plus, progType: "kprobe", attach: "BPF_TRACE_UPROBE_MULTI", flags: sleepable, target: UserProbe},
	{prefix: "uprobe.session.s", match: plus, progType: "kprobe", attach: "BPF_TRACE_UPROBE_SESSION", flags: sleepable, target: UserProbe},
	{prefix: "ksyscall", match: plus, progType: "kprobe", target: Syscall},
	{prefix: "kretsyscall", match: plus, progType: "kprobe", target: Syscall},
	{prefix: "usdt", match: plus, progType: "kprobe", attach: "BPF_TRACE_UPROBE_MULTI", flags: attachOpt, target: USDT},
	{prefix: "usdt.s", match: plus, progType: "kprobe", attach: "BPF_TRACE_UPROBE_MULTI", flags: attachOpt | sleepable, target: USDT},
	{prefix: "tc/ingress", progType: "sched_cls", attach: "BPF_TCX_INGRESS", canonical: "tcx/ingress"},
	{prefix: "tc/egress", progType: "sched_cls", attach: "BPF_TCX_EGRESS", canonical: "tcx/egress"},
	{prefix: "tcx/ingress", progType: "sched_cls", attach: "BPF_TCX_INGRESS"},
	{prefix: "tcx/egress", progType: "sched_cls", attach: "BPF_TCX_EGRESS"},
	{prefix: "tc", progType: "sched_cls"},
	{prefix: "classifier", progType: "sched_cls", canonical: "tc"},
	{prefix: "action", progType: "sched_act"},
	{prefix: "netkit/primary", progType: "sched_cls", attach: "BPF_NETKIT_PRIMARY"},
	{prefix: "netkit/peer", progType: "sched_cls", attach: "BPF_NETKIT_PEER"},
	{prefix: "tracepoint", match: plus, progType: "tracepoint", target: Tracepoint},
	{prefix: "tp", match: plus, progType: "tracepoint", target: Tracepoint, canonical: "tracepoint"},
	{prefix: "tracepoint.s", match: plus, progType: "tracepoint", flags: sleepable, target: Tracepoint},
	{prefix: "tp.s", match: plus, progType: "tracepoint", flags: sleepable, target: Tracepoint, canonical: "tracepoint.s"},
	{prefix: "raw_tracepoint", match: plus, progType: "raw_tracepoint", target: RawTracepoint},
	{prefix: "raw_tp", match: plus, progType: "raw_tracepoint", target: RawTracepoint, canonical: "raw_tracepoint"},
	{prefix: "raw_tracepoint.s", match: plus, progType: "raw_tracepoint", flags: sleepable, target: RawTracepoint},
	{prefix: "raw_tp.s", match: plus, progType: "raw_tracepoint", flags: sleepable, target: RawTracepoint, canonical: "raw_tracepoint.s"},
	{prefix: "raw_tracepoint.w", match: plus, progType: "raw_tracepoint_writable", target: RawTracepoint},
	{prefix: "raw_tp.w", match: plus, progType: "raw_tracepoint_writable", target: RawTracepoint, canonical: "raw_tracepoint.w"},
	{prefix: "tp_btf", match: plus, progType: "tracing", attach: "BPF_TRACE_RAW_TP", target: BTFTracepoint},
	{prefix: "tp_btf.s", match: plus, progType: "tracing", attach: "BPF_TRACE_RAW_TP", flags: sleepable, target: BTFTracepoint},
	{prefix: "fentry", match: plus, progType: "tracing", attach: "BPF_TRACE_FENTRY", target: KernelFunc},
	{prefix: "fmod_ret", match: plus, progType: "tracing", attach: "BPF_MODIFY_RETURN", target: KernelFunc},
	{prefix: "fexit", match: plus, progType: "tracing", attach: "BPF_TRACE_FEXIT", target: KernelFunc},
	{prefix: "fentry.s", match: plus, progType: "tracing", attach: "BPF_TRACE_FENTRY", flags: sleepable, target: KernelFunc},
	{prefix: "fmod_ret.s", match: plus, progType: "tracing", attach: "BPF_MODIFY_RETURN", flags: sleepable, target: KernelFunc},
	{prefix: "fexit.s", match: plus, progType: "tracing", attach: "BPF_TRACE_FEXIT", flags: sleepable, target: KernelFunc},
	{prefix: "fsession", match: plus, progType: "tracing", attach: "BPF_TRACE_FSESSION", target: KernelFunc},
	{prefix: "fsession.s", match: plus, progType: "tracing", attach: "BPF_TRACE_FSESSION", flags: sleepable, target: KernelFunc},
	{prefix: "fsession.multi", match: plus, progType: "tracing", attach: "BPF_TRACE_FSESSION_MULTI", target: KernelSymbolPattern},
	{prefix: "fsession.multi.s", match: plus, progType: "tracing", attach: "BPF_TRACE_FSESSION_MULTI", flags: sleepable, target: KernelSymbolPattern},
	{prefix: "fentry.multi", match: plus, progType: "tracing", attach: "BPF_TRACE_FENTRY_MULTI", target: KernelSymbolPattern},
	{prefix: "fexit.multi", match: plus, progType: "tracing", attach: "BPF_TRACE_FEXIT_MULTI", target: KernelSymbolPattern},
	{prefix: "fentry.multi.s", match: plus, progType: "tracing", attach: "BPF_TRACE_FENTRY_MULTI", flags: sleepable, target: KernelSymbolPattern},
	{prefix: "fexit.multi.s", match: plus, progType: "tracing", attach: "BPF_TRACE_FEXIT_MULTI", flags: sleepable, target: KernelSymbolPattern},
	{prefix: "freplace", match: plus, progType: "ext", target: ProgramFunc},
	{prefix: "lsm", match: plus, progType: "lsm", attach: "BPF_LSM_MAC", target: LSMHook},
	{prefix: "lsm.s", match: plus, progType: "lsm", attach: "BPF_LSM_MAC", flags: sleepable, target: LSMHook},
	{prefix: "lsm_cgroup", match: plus, progType: "lsm", attach: "BPF_LSM_CGROUP", target: LSMHook},
	{prefix: "iter", match: plus, progType: "tracing", attach: "BPF_TRACE_ITER", target: Iterator},
	{prefix: "iter.s", match: plus, progType: "tracing", attach: "BPF_TRACE_ITER", flags: sleepable, target: Iterator},
	{prefix: "syscall", progType: "syscall", flags: sleepable},
	{prefix: "xdp.frags/devmap", progType: "xdp", attach: "BPF_XDP_DEVMAP", flags: frags},
	{prefix: "xdp/devmap", progType: "xdp", attach: "BPF_XDP_DEVMAP"},
	{prefix: "xdp.frags/cpumap", progType: "xdp", attach: "BPF_XDP_CPUMAP", flags: frags},
	{prefix: "xdp/cpumap", progType: "xdp", attach: "BPF_XDP_CPUMAP"},
	{prefix: "xdp.frags", progType: "xdp", attach: "BPF_XDP", flags: frags},
	{prefix: "xdp", progType: "xdp", attach: "BPF_XDP", flags: attachOpt},
	{prefix: "perf_event", progType: "perf_event"},
	{prefix: "lwt_in", progType: "lwt_in"},
	{prefix: "lwt_out", progType: "lwt_out"},
	{prefix: "lwt_xmit", progType: "lwt_xmit"},
	{prefix: "lwt_seg6local", progType: "lwt_seg6local"},
	{prefix: "sockops", progType: "sock_ops", attach: "BPF_CGROUP_SOCK_OPS", flags: attachOpt},
	{prefix: "sk_skb/stream_parser", progType: "sk_skb", attach: "BPF_SK_SKB_STREAM_PARSER", flags: attachOpt},
	{prefix: "sk_skb/stream_verdict", progType: "sk_skb", attach: "BPF_SK_SKB_STREAM_VERDICT", flags: attachOpt},
	{prefix: "sk_skb/verdict", progType: "sk_skb", attach: "BPF_SK_SKB_VERDICT", flags: attachOpt},
	{prefix: "sk_skb", progType: "sk_skb"},
	{prefix: "sk_msg", progType: "sk_msg", attach: "BPF_SK_MSG_VERDICT", flags: attachOpt},
	{prefix: "lirc_mode2", progType: "lirc_mode2", attach: "BPF_LIRC_MODE2", flags: attachOpt},
	{prefix: "flow_dissector", progType: "flow_dissector", attach: "BPF_FLOW_DISSECTOR", flags: attachOpt},
	{prefix: "cgroup_skb/ingress", progType: "cgroup_skb", attach: "BPF_CGROUP_INET_INGRESS", flags: attachOpt},
	{prefix: "cgroup_skb/egress", progType: "cgroup_skb", attach: "BPF_CGROUP_INET_EGRESS", flags: attachOpt},
	{prefix: "cgroup/skb", progType: "cgroup_skb"},
	{prefix: "cgroup/sock_create", progType: "cgroup_sock", attach: "BPF_CGROUP_INET_SOCK_CREATE"},
	{prefix: "cgroup/sock_release", progType: "cgroup_sock", attach: "BPF_CGROUP_INET_SOCK_RELEASE"},
	{prefix: "cgroup/sock", progType: "cgroup_sock", attach: "BPF_CGROUP_INET_SOCK_CREATE", flags: attachOpt},
	{prefix: "cgroup/post_bind4", progType: "cgroup_sock", attach: "BPF_CGROUP_INET4_POST_BIND"},
	{prefix: "cgroup/post_bind6", progType: "cgroup_sock", attach: "BPF_CGROUP_INET6_POST_BIND"},
	{prefix: "cgroup/bind4", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET4_BIND"},
	{prefix: "cgroup/bind6", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET6_BIND"},
	{prefix: "cgroup/connect4", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET4_CONNECT"},
	{prefix: "cgroup/connect6", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET6_CONNECT"},
	{prefix: "cgroup/connect_unix", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UNIX_CONNECT"},
	{prefix: "cgroup/sendmsg4", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UDP4_SENDMSG"},
	{prefix: "cgroup/sendmsg6", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UDP6_SENDMSG"},
	{prefix: "cgroup/sendmsg_unix", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UNIX_SENDMSG"},
	{prefix: "cgroup/recvmsg4", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UDP4_RECVMSG"},
	{prefix: "cgroup/recvmsg6", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UDP6_RECVMSG"},
	{prefix: "cgroup/recvmsg_unix", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UNIX_RECVMSG"},
	{prefix: "cgroup/getpeername4", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET4_GETPEERNAME"},
	{prefix: "cgroup/getpeername6", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET6_GETPEERNAME"},
	{prefix: "cgroup/getpeername_unix", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UNIX_GETPEERNAME"},
	{prefix: "cgroup/getsockname4", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET4_GETSOCKNAME"},
	{prefix: "cgroup/getsockname6", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET6_GETSOCKNAME"},
	{prefix: "cgroup/getsockname_unix", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UNIX_GETSOCKNAME"},
	{prefix: "cgroup/sysctl", progType: "cgroup_sysctl", attach: "BPF_CGROUP_SYSCTL"},
	{prefix: "cgroup/getsockopt", progType: "cgroup_sockopt", attach: "BPF_CGROUP_GETSOCKOPT"},
	{prefix: "cgroup/setsockopt", progType: "cgroup_sockopt", attach: "BPF_CGROUP_SETSOCKOPT"},
	{prefix: "cgroup/dev", progType: "cgroup_device", attach: "BPF_CGROUP_DEVICE", flags: attachOpt},
	{prefix: "struct_ops", match: plus, progType: "struct_ops", target: StructOpsMember},
	{prefix: "struct_ops.s", match: plus, progType: "struct_ops", flags: sleepable, target: StructOpsMember},
	{prefix: "sk_lookup", progType: "sk_lookup", attach: "BPF_SK_LOOKUP"},
	{prefix: "netfilter", progType: "netfilter", attach: "BPF_NETFILTER"},
}

// progTypeRows are the program type names the CLI accepts that are not also libbpf sections,
// each standing for its type's default attachment: the one libbpf's plainest section of the
// type uses (cgroup/sock for cgroup_sock, sockops for sock_ops, fentry for tracing), or, where
// libbpf has no plain section, the first value of the enum the kernel accepts for the type
// (bind4 for cgroup_sock_addr, getsockopt for cgroup_sockopt), which is also the probe's first
// variant of the type. Names that are libbpf sections too (xdp, kprobe, lsm, struct_ops, ...)
// mean what libbpf makes them mean, which is the same type.
var progTypeRows = []row{
	{prefix: "socket_filter", progTypeName: true, progType: "socket_filter"},
	{prefix: "sched_cls", progTypeName: true, progType: "sched_cls"},
	{prefix: "sched_act", progTypeName: true, progType: "sched_act"},
	{prefix: "cgroup_skb", progTypeName: true, progType: "cgroup_skb", attach: "BPF_CGROUP_INET_INGRESS", flags: attachOpt},
	{prefix: "cgroup_sock", progTypeName: true, progType: "cgroup_sock", attach: "BPF_CGROUP_INET_SOCK_CREATE", flags: attachOpt},
	{prefix: "sock_ops", progTypeName: true, progType: "sock_ops", attach: "BPF_CGROUP_SOCK_OPS", flags: attachOpt},
	{prefix: "cgroup_device", progTypeName: true, progType: "cgroup_device", attach: "BPF_CGROUP_DEVICE", flags: attachOpt},
	{prefix: "cgroup_sock_addr", progTypeName: true, progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET4_BIND"},
	{prefix: "cgroup_sysctl", progTypeName: true, progType: "cgroup_sysctl", attach: "BPF_CGROUP_SYSCTL", flags: attachOpt},
	{prefix: "raw_tracepoint_writable", progTypeName: true, progType: "raw_tracepoint_writable"},
	{prefix: "cgroup_sockopt", progTypeName: true, progType: "cgroup_sockopt", attach: "BPF_CGROUP_GETSOCKOPT"},
	{prefix: "tracing", progTypeName: true, progType: "tracing", attach: "BPF_TRACE_FENTRY"},
	{prefix: "ext", progTypeName: true, progType: "ext"},
}
