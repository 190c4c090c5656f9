package section

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// want is what a section name must mean. The cases are written from libbpf's table and the
// kernel's enum independently of table.go; TestRows holds them to cover every row.
type want struct {
	name                  string
	progType, attach      string
	opt, sleep, frags     bool
	target                TargetKind
	tgt, module, kind, mb string
	key                   string
}

var cases = []want{
	{name: "socket", progType: "socket_filter", key: "socket"},
	{name: "sk_reuseport/migrate", progType: "sk_reuseport", attach: "BPF_SK_REUSEPORT_SELECT_OR_MIGRATE", key: "sk_reuseport/migrate"},
	{name: "sk_reuseport", progType: "sk_reuseport", attach: "BPF_SK_REUSEPORT_SELECT", key: "sk_reuseport"},
	{name: "kprobe", progType: "kprobe", target: KernelSymbol, key: "kprobe"},
	{name: "kprobe/do_unlinkat", progType: "kprobe", target: KernelSymbol, tgt: "do_unlinkat", key: "kprobe/do_unlinkat"},
	{name: "kprobe/tcp_v4_connect+0x10", progType: "kprobe", target: KernelSymbol, tgt: "tcp_v4_connect+0x10", key: "kprobe/tcp_v4_connect+0x10"},
	{name: "kprobe/foo.isra.0+8", progType: "kprobe", target: KernelSymbol, tgt: "foo.isra.0+8", key: "kprobe/foo.isra.0+8"},
	{name: "uprobe//usr/bin/bash:readline", progType: "kprobe", target: UserProbe, tgt: "/usr/bin/bash:readline", key: "uprobe//usr/bin/bash:readline"},
	{name: "uprobe.s/libc.so.6:malloc", progType: "kprobe", sleep: true, target: UserProbe, tgt: "libc.so.6:malloc", key: "uprobe.s/libc.so.6:malloc"},
	{name: "kretprobe/do_sys_openat2", progType: "kprobe", target: KernelSymbol, tgt: "do_sys_openat2", key: "kretprobe/do_sys_openat2"},
	{name: "uretprobe/libc.so.6:malloc", progType: "kprobe", target: UserProbe, tgt: "libc.so.6:malloc", key: "uretprobe/libc.so.6:malloc"},
	{name: "uretprobe.s", progType: "kprobe", sleep: true, target: UserProbe, key: "uretprobe.s"},
	{name: "kprobe.multi/tcp_*", progType: "kprobe", attach: "BPF_TRACE_KPROBE_MULTI", target: KernelSymbolPattern, tgt: "tcp_*", key: "kprobe.multi/tcp_*"},
	{name: "kretprobe.multi", progType: "kprobe", attach: "BPF_TRACE_KPROBE_MULTI", target: KernelSymbolPattern, key: "kretprobe.multi"},
	{name: "kprobe.session", progType: "kprobe", attach: "BPF_TRACE_KPROBE_SESSION", target: KernelSymbolPattern, key: "kprobe.session"},
	{name: "kprobe.session/bpf_fentry_test?", progType: "kprobe", attach: "BPF_TRACE_KPROBE_SESSION", target: KernelSymbolPattern, tgt: "bpf_fentry_test?", key: "kprobe.session/bpf_fentry_test?"},
	{name: "uprobe.multi//proc/self/exe:uprobe_multi_func_*", progType: "kprobe", attach: "BPF_TRACE_UPROBE_MULTI", target: UserProbe, tgt: "/proc/self/exe:uprobe_multi_func_*", key: "uprobe.multi//proc/self/exe:uprobe_multi_func_*"},
	{name: "uretprobe.multi", progType: "kprobe", attach: "BPF_TRACE_UPROBE_MULTI", target: UserProbe, key: "uretprobe.multi"},
	{name: "uprobe.session", progType: "kprobe", attach: "BPF_TRACE_UPROBE_SESSION", target: UserProbe, key: "uprobe.session"},
	{name: "uprobe.multi.s", progType: "kprobe", attach: "BPF_TRACE_UPROBE_MULTI", sleep: true, target: UserProbe, key: "uprobe.multi.s"},
	{name: "uretprobe.multi.s", progType: "kprobe", attach: "BPF_TRACE_UPROBE_MULTI", sleep: true, target: UserProbe, key: "uretprobe.multi.s"},
	{name: "uprobe.session.s/x:y", progType: "kprobe", attach: "BPF_TRACE_UPROBE_SESSION", sleep: true, target: UserProbe, tgt: "x:y", key: "uprobe.session.s/x:y"},
	{name: "ksyscall/openat", progType: "kprobe", target: Syscall, tgt: "openat", key: "ksyscall/openat"},
	{name: "kretsyscall", progType: "kprobe", target: Syscall, key: "kretsyscall"},
	{name: "usdt/./app:provider:probe", progType: "kprobe", attach: "BPF_TRACE_UPROBE_MULTI", opt: true, target: USDT, tgt: "./app:provider:probe", key: "usdt/./app:provider:probe"},
	{name: "usdt.s", progType: "kprobe", attach: "BPF_TRACE_UPROBE_MULTI", opt: true, sleep: true, target: USDT, key: "usdt.s"},
	{name: "tc/ingress", progType: "sched_cls", attach: "BPF_TCX_INGRESS", key: "tcx/ingress"},
	{name: "tc/egress", progType: "sched_cls", attach: "BPF_TCX_EGRESS", key: "tcx/egress"},
	{name: "tcx/ingress", progType: "sched_cls", attach: "BPF_TCX_INGRESS", key: "tcx/ingress"},
	{name: "tcx/egress", progType: "sched_cls", attach: "BPF_TCX_EGRESS", key: "tcx/egress"},
	{name: "tc", progType: "sched_cls", key: "tc"},
	{name: "classifier", progType: "sched_cls", key: "tc"},
	{name: "action", progType: "sched_act", key: "action"},
	{name: "netkit/primary", progType: "sched_cls", attach: "BPF_NETKIT_PRIMARY", key: "netkit/primary"},
	{name: "netkit/peer", progType: "sched_cls", attach: "BPF_NETKIT_PEER", key: "netkit/peer"},
	{name: "tracepoint/syscalls/sys_enter_openat", progType: "tracepoint", target: Tracepoint, tgt: "syscalls/sys_enter_openat", key: "tracepoint/syscalls/sys_enter_openat"},
	{name: "tp/sched/sched_switch", progType: "tracepoint", target: Tracepoint, tgt: "sched/sched_switch", key: "tracepoint/sched/sched_switch"},
	{name: "tracepoint.s/syscalls/sys_enter_openat", progType: "tracepoint", sleep: true, target: Tracepoint, tgt: "syscalls/sys_enter_openat", key: "tracepoint.s/syscalls/sys_enter_openat"},
	{name: "tp.s", progType: "tracepoint", sleep: true, target: Tracepoint, key: "tracepoint.s"},
	{name: "raw_tracepoint/sched_switch", progType: "raw_tracepoint", target: RawTracepoint, tgt: "sched_switch", key: "raw_tracepoint/sched_switch"},
	{name: "raw_tp", progType: "raw_tracepoint", target: RawTracepoint, key: "raw_tracepoint"},
	{name: "raw_tracepoint.s", progType: "raw_tracepoint", sleep: true, target: RawTracepoint, key: "raw_tracepoint.s"},
	{name: "raw_tp.s/sys_enter", progType: "raw_tracepoint", sleep: true, target: RawTracepoint, tgt: "sys_enter", key: "raw_tracepoint.s/sys_enter"},
	{name: "raw_tracepoint.w/bpf_test_finish", progType: "raw_tracepoint_writable", target: RawTracepoint, tgt: "bpf_test_finish", key: "raw_tracepoint.w/bpf_test_finish"},
	{name: "raw_tp.w", progType: "raw_tracepoint_writable", target: RawTracepoint, key: "raw_tracepoint.w"},
	{name: "tp_btf/tcp_destroy_sock", progType: "tracing", attach: "BPF_TRACE_RAW_TP", target: BTFTracepoint, tgt: "tcp_destroy_sock", key: "tp_btf/tcp_destroy_sock"},
	{name: "tp_btf.s/sys_enter", progType: "tracing", attach: "BPF_TRACE_RAW_TP", sleep: true, target: BTFTracepoint, tgt: "sys_enter", key: "tp_btf.s/sys_enter"},
	{name: "fentry/dentry_open", progType: "tracing", attach: "BPF_TRACE_FENTRY", target: KernelFunc, tgt: "dentry_open", key: "fentry/dentry_open"},
	{name: "fentry/vmlinux:d_path", progType: "tracing", attach: "BPF_TRACE_FENTRY", target: KernelFunc, tgt: "d_path", key: "fentry/d_path"},
	{name: "fentry/nf_conntrack:nf_confirm", progType: "tracing", attach: "BPF_TRACE_FENTRY", target: KernelFunc, tgt: "nf_confirm", module: "nf_conntrack", key: "fentry/nf_conntrack:nf_confirm"},
	{name: "fmod_ret/bpf_modify_return_test", progType: "tracing", attach: "BPF_MODIFY_RETURN", target: KernelFunc, tgt: "bpf_modify_return_test", key: "fmod_ret/bpf_modify_return_test"},
	{name: "fexit", progType: "tracing", attach: "BPF_TRACE_FEXIT", target: KernelFunc, key: "fexit"},
	{name: "fentry.s/bpf_fentry_test1", progType: "tracing", attach: "BPF_TRACE_FENTRY", sleep: true, target: KernelFunc, tgt: "bpf_fentry_test1", key: "fentry.s/bpf_fentry_test1"},
	{name: "fmod_ret.s/__x64_sys_getpgid", progType: "tracing", attach: "BPF_MODIFY_RETURN", sleep: true, target: KernelFunc, tgt: "__x64_sys_getpgid", key: "fmod_ret.s/__x64_sys_getpgid"},
	{name: "fexit.s", progType: "tracing", attach: "BPF_TRACE_FEXIT", sleep: true, target: KernelFunc, key: "fexit.s"},
	{name: "fsession/bpf_fentry_test1", progType: "tracing", attach: "BPF_TRACE_FSESSION", target: KernelFunc, tgt: "bpf_fentry_test1", key: "fsession/bpf_fentry_test1"},
	{name: "fsession.s", progType: "tracing", attach: "BPF_TRACE_FSESSION", sleep: true, target: KernelFunc, key: "fsession.s"},
	{name: "fsession.multi/bpf_fentry_test*", progType: "tracing", attach: "BPF_TRACE_FSESSION_MULTI", target: KernelSymbolPattern, tgt: "bpf_fentry_test*", key: "fsession.multi/bpf_fentry_test*"},
	{name: "fsession.multi.s", progType: "tracing", attach: "BPF_TRACE_FSESSION_MULTI", sleep: true, target: KernelSymbolPattern, key: "fsession.multi.s"},
	{name: "fentry.multi/bpf_fentry_test*", progType: "tracing", attach: "BPF_TRACE_FENTRY_MULTI", target: KernelSymbolPattern, tgt: "bpf_fentry_test*", key: "fentry.multi/bpf_fentry_test*"},
	{name: "fexit.multi", progType: "tracing", attach: "BPF_TRACE_FEXIT_MULTI", target: KernelSymbolPattern, key: "fexit.multi"},
	{name: "fentry.multi.s", progType: "tracing", attach: "BPF_TRACE_FENTRY_MULTI", sleep: true, target: KernelSymbolPattern, key: "fentry.multi.s"},
	{name: "fexit.multi.s/x*", progType: "tracing", attach: "BPF_TRACE_FEXIT_MULTI", sleep: true, target: KernelSymbolPattern, tgt: "x*", key: "fexit.multi.s/x*"},
	{name: "freplace/handle_packet", progType: "ext", target: ProgramFunc, tgt: "handle_packet", key: "freplace/handle_packet"},
	{name: "lsm/file_open", progType: "lsm", attach: "BPF_LSM_MAC", target: LSMHook, tgt: "file_open", key: "lsm/file_open"},
	{name: "lsm.s/bprm_committed_creds", progType: "lsm", attach: "BPF_LSM_MAC", sleep: true, target: LSMHook, tgt: "bprm_committed_creds", key: "lsm.s/bprm_committed_creds"},
	{name: "lsm_cgroup/socket_post_create", progType: "lsm", attach: "BPF_LSM_CGROUP", target: LSMHook, tgt: "socket_post_create", key: "lsm_cgroup/socket_post_create"},
	{name: "iter/tcp", progType: "tracing", attach: "BPF_TRACE_ITER", target: Iterator, tgt: "tcp", key: "iter/tcp"},
	{name: "iter.s/task", progType: "tracing", attach: "BPF_TRACE_ITER", sleep: true, target: Iterator, tgt: "task", key: "iter.s/task"},
	{name: "syscall", progType: "syscall", sleep: true, key: "syscall"},
	{name: "xdp.frags/devmap", progType: "xdp", attach: "BPF_XDP_DEVMAP", frags: true, key: "xdp.frags/devmap"},
	{name: "xdp/devmap", progType: "xdp", attach: "BPF_XDP_DEVMAP", key: "xdp/devmap"},
	{name: "xdp.frags/cpumap", progType: "xdp", attach: "BPF_XDP_CPUMAP", frags: true, key: "xdp.frags/cpumap"},
	{name: "xdp/cpumap", progType: "xdp", attach: "BPF_XDP_CPUMAP", key: "xdp/cpumap"},
	{name: "xdp.frags", progType: "xdp", attach: "BPF_XDP", frags: true, key: "xdp.frags"},
	{name: "xdp", progType: "xdp", attach: "BPF_XDP", opt: true, key: "xdp"},
	{name: "perf_event", progType: "perf_event", key: "perf_event"},
	{name: "lwt_in", progType: "lwt_in", key: "lwt_in"},
	{name: "lwt_out", progType: "lwt_out", key: "lwt_out"},
	{name: "lwt_xmit", progType: "lwt_xmit", key: "lwt_xmit"},
	{name: "lwt_seg6local", progType: "lwt_seg6local", key: "lwt_seg6local"},
	{name: "sockops", progType: "sock_ops", attach: "BPF_CGROUP_SOCK_OPS", opt: true, key: "sockops"},
	{name: "sk_skb/stream_parser", progType: "sk_skb", attach: "BPF_SK_SKB_STREAM_PARSER", opt: true, key: "sk_skb/stream_parser"},
	{name: "sk_skb/stream_verdict", progType: "sk_skb", attach: "BPF_SK_SKB_STREAM_VERDICT", opt: true, key: "sk_skb/stream_verdict"},
	{name: "sk_skb/verdict", progType: "sk_skb", attach: "BPF_SK_SKB_VERDICT", opt: true, key: "sk_skb/verdict"},
	{name: "sk_skb", progType: "sk_skb", key: "sk_skb"},
	{name: "sk_msg", progType: "sk_msg", attach: "BPF_SK_MSG_VERDICT", opt: true, key: "sk_msg"},
	{name: "lirc_mode2", progType: "lirc_mode2", attach: "BPF_LIRC_MODE2", opt: true, key: "lirc_mode2"},
	{name: "flow_dissector", progType: "flow_dissector", attach: "BPF_FLOW_DISSECTOR", opt: true, key: "flow_dissector"},
	{name: "cgroup_skb/ingress", progType: "cgroup_skb", attach: "BPF_CGROUP_INET_INGRESS", opt: true, key: "cgroup_skb/ingress"},
	{name: "cgroup_skb/egress", progType: "cgroup_skb", attach: "BPF_CGROUP_INET_EGRESS", opt: true, key: "cgroup_skb/egress"},
	{name: "cgroup/skb", progType: "cgroup_skb", key: "cgroup/skb"},
	{name: "cgroup/sock_create", progType: "cgroup_sock", attach: "BPF_CGROUP_INET_SOCK_CREATE", key: "cgroup/sock_create"},
	{name: "cgroup/sock_release", progType: "cgroup_sock", attach: "BPF_CGROUP_INET_SOCK_RELEASE", key: "cgroup/sock_release"},
	{name: "cgroup/sock", progType: "cgroup_sock", attach: "BPF_CGROUP_INET_SOCK_CREATE", opt: true, key: "cgroup/sock"},
	{name: "cgroup/post_bind4", progType: "cgroup_sock", attach: "BPF_CGROUP_INET4_POST_BIND", key: "cgroup/post_bind4"},
	{name: "cgroup/post_bind6", progType: "cgroup_sock", attach: "BPF_CGROUP_INET6_POST_BIND", key: "cgroup/post_bind6"},
	{name: "cgroup/bind4", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET4_BIND", key: "cgroup/bind4"},
	{name: "cgroup/bind6", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET6_BIND", key: "cgroup/bind6"},
	{name: "cgroup/connect4", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET4_CONNECT", key: "cgroup/connect4"},
	{name: "cgroup/connect6", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET6_CONNECT", key: "cgroup/connect6"},
	{name: "cgroup/connect_unix", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UNIX_CONNECT", key: "cgroup/connect_unix"},
	{name: "cgroup/sendmsg4", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UDP4_SENDMSG", key: "cgroup/sendmsg4"},
	{name: "cgroup/sendmsg6", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UDP6_SENDMSG", key: "cgroup/sendmsg6"},
	{name: "cgroup/sendmsg_unix", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UNIX_SENDMSG", key: "cgroup/sendmsg_unix"},
	{name: "cgroup/recvmsg4", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UDP4_RECVMSG", key: "cgroup/recvmsg4"},
	{name: "cgroup/recvmsg6", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UDP6_RECVMSG", key: "cgroup/recvmsg6"},
	{name: "cgroup/recvmsg_unix", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UNIX_RECVMSG", key: "cgroup/recvmsg_unix"},
	{name: "cgroup/getpeername4", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET4_GETPEERNAME", key: "cgroup/getpeername4"},
	{name: "cgroup/getpeername6", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET6_GETPEERNAME", key: "cgroup/getpeername6"},
	{name: "cgroup/getpeername_unix", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UNIX_GETPEERNAME", key: "cgroup/getpeername_unix"},
	{name: "cgroup/getsockname4", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET4_GETSOCKNAME", key: "cgroup/getsockname4"},
	{name: "cgroup/getsockname6", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET6_GETSOCKNAME", key: "cgroup/getsockname6"},
	{name: "cgroup/getsockname_unix", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_UNIX_GETSOCKNAME", key: "cgroup/getsockname_unix"},
	{name: "cgroup/sysctl", progType: "cgroup_sysctl", attach: "BPF_CGROUP_SYSCTL", key: "cgroup/sysctl"},
	{name: "cgroup/getsockopt", progType: "cgroup_sockopt", attach: "BPF_CGROUP_GETSOCKOPT", key: "cgroup/getsockopt"},
	{name: "cgroup/setsockopt", progType: "cgroup_sockopt", attach: "BPF_CGROUP_SETSOCKOPT", key: "cgroup/setsockopt"},
	{name: "cgroup/dev", progType: "cgroup_device", attach: "BPF_CGROUP_DEVICE", opt: true, key: "cgroup/dev"},
	{name: "struct_ops", progType: "struct_ops", target: StructOpsMember, key: "struct_ops"},
	{name: "struct_ops/sched_ext_ops.enqueue", progType: "struct_ops", target: StructOpsMember, tgt: "sched_ext_ops.enqueue", kind: "sched_ext_ops", mb: "enqueue", key: "struct_ops/sched_ext_ops.enqueue"},
	{name: "struct_ops/Qdisc_ops.enqueue", progType: "struct_ops", target: StructOpsMember, tgt: "Qdisc_ops.enqueue", kind: "Qdisc_ops", mb: "enqueue", key: "struct_ops/Qdisc_ops.enqueue"},
	{name: "struct_ops/tcp_congestion_ops.cong_avoid", progType: "struct_ops", target: StructOpsMember, tgt: "tcp_congestion_ops.cong_avoid", kind: "tcp_congestion_ops", mb: "cong_avoid", key: "struct_ops/tcp_congestion_ops.cong_avoid"},
	{name: "struct_ops/bpf_cubic_cong_avoid", progType: "struct_ops", target: StructOpsMember, tgt: "bpf_cubic_cong_avoid", key: "struct_ops"},
	{name: "struct_ops.s", progType: "struct_ops", sleep: true, target: StructOpsMember, key: "struct_ops.s"},
	{name: "struct_ops.s/sched_ext_ops.init", progType: "struct_ops", sleep: true, target: StructOpsMember, tgt: "sched_ext_ops.init", kind: "sched_ext_ops", mb: "init", key: "struct_ops.s/sched_ext_ops.init"},
	{name: "sk_lookup", progType: "sk_lookup", attach: "BPF_SK_LOOKUP", key: "sk_lookup"},
	{name: "netfilter", progType: "netfilter", attach: "BPF_NETFILTER", key: "netfilter"},
	// Program type names that are no libbpf section: their types' default attachments.
	{name: "socket_filter", progType: "socket_filter", key: "socket_filter"},
	{name: "sched_cls", progType: "sched_cls", key: "sched_cls"},
	{name: "sched_act", progType: "sched_act", key: "sched_act"},
	{name: "cgroup_skb", progType: "cgroup_skb", attach: "BPF_CGROUP_INET_INGRESS", opt: true, key: "cgroup_skb"},
	{name: "cgroup_sock", progType: "cgroup_sock", attach: "BPF_CGROUP_INET_SOCK_CREATE", opt: true, key: "cgroup_sock"},
	{name: "sock_ops", progType: "sock_ops", attach: "BPF_CGROUP_SOCK_OPS", opt: true, key: "sock_ops"},
	{name: "cgroup_device", progType: "cgroup_device", attach: "BPF_CGROUP_DEVICE", opt: true, key: "cgroup_device"},
	{name: "cgroup_sock_addr", progType: "cgroup_sock_addr", attach: "BPF_CGROUP_INET4_BIND", key: "cgroup_sock_addr"},
	{name: "cgroup_sysctl", progType: "cgroup_sysctl", attach: "BPF_CGROUP_SYSCTL", opt: true, key: "cgroup_sysctl"},
	{name: "raw_tracepoint_writable", progType: "raw_tracepoint_writable", key: "raw_tracepoint_writable"},
	{name: "cgroup_sockopt", progType: "cgroup_sockopt", attach: "BPF_CGROUP_GETSOCKOPT", key: "cgroup_sockopt"},
	{name: "tracing", progType: "tracing", attach: "BPF_TRACE_FENTRY", key: "tracing"},
	{name: "ext", progType: "ext", key: "ext"},
}

func TestParse(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse(c.name)
			if err != nil {
				t.Fatal(err)
			}
			got := want{
				name: s.Name, progType: s.ProgType, attach: s.AttachType, opt: s.AttachOptional,
				sleep: s.Sleepable, frags: s.XDPFrags, target: s.TargetKind, tgt: s.Target,
				module: s.Module, kind: s.Kind, mb: s.Member, key: s.Key(),
			}
			if got != c {
				t.Errorf("Parse(%q):\n got %+v\nwant %+v", c.name, got, c)
			}
			if s.String() != c.name {
				t.Errorf("String() = %q", s.String())
			}
		})
	}
}

// TestRows holds the cases to every row of the table, and each case to the row it is meant for
// (a row no case reaches could say anything), and each row to its prefix alone (a prefix listed
// twice would make the second row dead).
func TestRows(t *testing.T) {
	hit := map[string]int{}
	for _, c := range cases {
		s, err := Parse(c.name)
		if err != nil {
			continue // TestParse reports it
		}
		hit[s.Prefix]++
	}
	seen := map[string]bool{}
	for _, r := range slices.Concat(libbpfRows, progTypeRows) {
		if hit[r.prefix] == 0 {
			t.Errorf("no case reaches the row %q", r.prefix)
		}
		if r.match == plus && r.target == None || r.match == exact && r.target != None {
			t.Errorf("row %q: a row takes a target exactly when it is a '+' row", r.prefix)
		}
		if seen[r.prefix] {
			t.Errorf("prefix %q listed twice", r.prefix)
		}
		seen[r.prefix] = true
	}
}

func TestBTFTarget(t *testing.T) {
	tests := []struct {
		name, want string
		typedef    bool
	}{
		{"tp_btf/tcp_destroy_sock", "btf_trace_tcp_destroy_sock", true},
		{"lsm.s/file_open", "bpf_lsm_file_open", false},
		{"lsm_cgroup/socket_post_create", "bpf_lsm_socket_post_create", false},
		{"iter/tcp", "bpf_iter_tcp", false},
		{"fentry/dentry_open", "dentry_open", false},
		{"fmod_ret/nf_conntrack:nf_confirm", "nf_confirm", false},
		{"fentry", "", false},
		{"kprobe/do_unlinkat", "", false},
		{"struct_ops/sched_ext_ops.enqueue", "", false},
		{"xdp", "", false},
	}
	for _, tt := range tests {
		s, err := Parse(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		name, typedef, ok := s.BTFTarget()
		if name != tt.want || typedef != tt.typedef || ok != (tt.want != "") {
			t.Errorf("%s: BTFTarget = %q, %v, %v; want %q, %v", tt.name, name, typedef, ok, tt.want, tt.typedef)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, reason string }{
		{"", "empty section name"},
		{"fentri/foo", `"fentri" is neither a libbpf section prefix nor a program type name`},
		{"kprobex", `"kprobex" is neither`},
		{"xdp/foo", `"xdp" takes no attach target`},
		{"tc/foo", `"tc" takes no attach target`},
		{"cgroup/foo", `no libbpf section "cgroup/foo"; those starting with "cgroup/" are cgroup/skb, cgroup/sock_create`},
		{"sk_skb/foo", `"sk_skb" takes no attach target`},
		{"socket_filter/x", `"socket_filter" takes no attach target`},
		{"unspec", `"unspec" is neither`},
		{"fentry/", `empty attach target after "fentry/"`},
		{"struct_ops/", `empty attach target after "struct_ops/"`},
		{"fentry/d path", `attach target "d path": a kernel function is FUNCTION or MODULE:FUNCTION`},
		{"fentry/a:b:c", `a kernel function is FUNCTION or MODULE:FUNCTION`},
		{"fentry/:d_path", `a kernel function is FUNCTION or MODULE:FUNCTION`},
		{"lsm/1file", `LSM hook names are C identifiers`},
		{"iter/tcp/x", `iterator names are C identifiers`},
		{"tp_btf/", `empty attach target`},
		{"tracepoint/sched", `a tracepoint is CATEGORY/NAME`},
		{"tp/sched/a/b", `a tracepoint is CATEGORY/NAME`},
		{"raw_tp/a-b", `a raw tracepoint name holds`},
		{"kprobe/foo+", `the offset after '+' is a non-negative number`},
		{"kprobe/foo+-1", `the offset after '+' is a non-negative number`},
		{"kprobe/foo+0x", `the offset after '+' is a non-negative number`},
		{"kretprobe/foo+8", `a return probe takes no offset`},
		{"kprobe/+8", `a kernel symbol holds`},
		{"kprobe.multi/a b", `a kernel function pattern holds`},
		{"uprobe/a\nb", `holds a control character`},
		{"struct_ops/sched_ext_ops.", `struct_ops/KIND.MEMBER names a struct_ops kind and one of its members`},
		{"struct_ops/.enqueue", `struct_ops/KIND.MEMBER names`},
		{"struct_ops/a.b.c", `struct_ops/KIND.MEMBER names`},
		{"struct_ops/1abc", `a struct_ops program name is a C identifier`},
		{"syscall/x", `"syscall" takes no attach target`},
		{strings.Repeat("a", maxLen+1), "more than any section name"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.name)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a *section.Error", tt.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("Parse(%q) = %q, want it to say %q", tt.name, err, tt.reason)
		}
	}
}

func TestTargetKindString(t *testing.T) {
	seen := map[string]bool{}
	for k := None; k <= StructOpsMember; k++ {
		s := k.String()
		if s == "" || strings.HasPrefix(s, "TargetKind(") || seen[s] {
			t.Errorf("TargetKind %d: name %q missing or repeated", k, s)
		}
		seen[s] = true
	}
	if got := TargetKind(200).String(); got != "TargetKind(200)" {
		t.Errorf("out of range: %q", got)
	}
}

// TestParseBadTargetKeepsPrefix: a target of the wrong shape is an error, and the Section still
// says what the prefix means, which a loader of compiled objects goes by (pwru's kprobe/skb-1).
func TestParseBadTargetKeepsPrefix(t *testing.T) {
	tests := []struct{ name, progType, target string }{
		{"kprobe/skb-1", "kprobe", "skb-1"},
		{"kprobe.multi/skb-3", "kprobe", "skb-3"},
		{"fentry/1abc", "tracing", "1abc"},
	}
	for _, tt := range tests {
		s, err := Parse(tt.name)
		if err == nil || s.ProgType != tt.progType || s.Target != tt.target {
			t.Errorf("Parse(%q) = prog type %q, target %q, error %v; want %q, %q and an error", tt.name, s.ProgType, s.Target, err, tt.progType, tt.target)
		}
	}
	if s, err := Parse("bpfmatrix/x"); err == nil || s.ProgType != "" {
		t.Errorf("an unknown prefix: prog type %q, error %v", s.ProgType, err)
	}
}
