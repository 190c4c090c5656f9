package proposal

import "strings"

// categoryPrefixes map name prefixes to kfunc categories, longest first where they overlap.
var categoryPrefixes = []struct{ prefix, category string }{
	{"scx_bpf_", "sched_ext"}, {"bpf_cpumask_", "cpumask"}, {"bpf_dynptr_", "dynptr"},
	{"bpf_iter_", "iter"}, {"bpf_rbtree_", "graph"}, {"bpf_list_", "graph"},
	{"bpf_obj_", "object"}, {"bpf_percpu_obj_", "object"}, {"bpf_refcount_", "object"},
	{"bpf_rcu_", "sync"}, {"bpf_preempt_", "sync"}, {"bpf_local_irq_", "sync"}, {"bpf_res_spin_", "sync"},
	{"bpf_wq_", "time"}, {"bpf_timer_", "time"},
	{"bpf_crypto_", "crypto"}, {"bpf_xdp_", "xdp"}, {"bpf_skb_", "network"}, {"bpf_sock_", "network"},
	{"bpf_ct_", "network"}, {"bpf_xfrm_", "network"}, {"bpf_sk_", "network"}, {"bpf_tcp_", "network"},
	{"bpf_task_", "task"}, {"bpf_get_task_", "task"}, {"bpf_cgroup_", "cgroup"}, {"bpf_get_file_", "file"},
	{"bpf_get_dentry_", "file"}, {"bpf_set_dentry_", "file"}, {"bpf_remove_dentry_", "file"}, {"bpf_path_", "file"},
	{"bpf_arena_", "memory"}, {"bpf_kptr_", "memory"}, {"bpf_copy_from_user", "memory"},
	{"bpf_probe_read", "memory"}, {"bpf_str", "string"}, {"hid_bpf_", "hid"}, {"bpf_lsm_", "lsm"},
	{"bpf_map_", "map"}, {"bpf_get_func_", "trace"}, {"bpf_send_signal", "task"},
}

// Category proposes a kfunc's category from its name; people may change it, and sync keeps
// what they chose.
func Category(name string) string {
	for _, p := range categoryPrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.category
		}
	}
	switch {
	case strings.Contains(name, "cgroup"):
		return "cgroup"
	case strings.Contains(name, "task"):
		return "task"
	case strings.Contains(name, "file") || strings.Contains(name, "xattr"):
		return "file"
	case strings.Contains(name, "skb") || strings.Contains(name, "sock") || strings.Contains(name, "xdp"):
		return "network"
	}
	return "misc"
}
