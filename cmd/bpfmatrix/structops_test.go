package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// structOpsDocuments are the recorded observations of 6.12 and 7.3 with the struct_ops kinds
// an agent that records them would write (the recorded agent predates the record): sched_ext_ops
// only on 7.3, with a member 6.12 lacks.
func structOpsDocuments(t *testing.T) string {
	t.Helper()
	kinds := map[string][]observation.StructOpsKind{
		"6.12": {{Kind: "tcp_congestion_ops", Members: []string{"ssthresh", "cong_avoid"}}},
		"7.3": {{Kind: "sched_ext_ops", Members: []string{"enqueue", "dispatch", "cgroup_set_idle"}},
			{Kind: "tcp_congestion_ops", Members: []string{"ssthresh", "cong_avoid"}}},
	}
	return editedObservations(t, []string{"6.12", "7.3"}, func(name string, doc *observation.Document) {
		doc.StructOps = kinds[name]
	})
}

// TestStructOpsSyncAndCompat: kfuncs sync --write writes the struct_ops table the documents
// record to --structops, and compat and list then refuse a kind or member no kernel registers
// (exit 2, naming the known ones) and answer no on a kernel without the member (exit 1); with
// an empty table they answer as before, noting that nothing was checked.
func TestStructOpsSyncAndCompat(t *testing.T) {
	dir := structOpsDocuments(t)
	kfuncs := writeTemp(t, "kfuncs.yaml", "- name: scx_bpf_dsq_insert\n  prototype: \"void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags)\"\n  min_kernel: \"6.12\"\n  prog_types: [struct_ops]\n  category: sched_ext\n")
	ops := testenv.WriteFile(t, filepath.Join(t.TempDir(), "structops.yaml"), []byte("[]\n"))
	synced := writeTemp(t, "synced.yaml", "[]\n") // the kfuncs sync writes, apart from the table asked below
	code, stdout, stderr := run("kfuncs", "sync", "--in", dir, "--kfuncs", synced, "--structops", ops, "--write")
	if code != exitOK || !strings.Contains(stdout, "struct_ops: 2 kinds with 5 members\n") || !strings.Contains(stdout, "wrote "+ops+"\n") {
		t.Fatalf("sync: exit %d\n%s%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(ops)
	if err != nil || !strings.Contains(string(data), "    cgroup_set_idle: {since: \"7.3\"}\n") || !strings.Contains(string(data), "    cong_avoid: {since: \"6.12\"}\n") {
		t.Fatalf("written table (%v):\n%s", err, data)
	}
	empty := writeTemp(t, "empty.yaml", "# no kinds yet\n")
	tests := []struct {
		args           []string
		table          string
		code           int
		stdout, stderr string
	}{
		{[]string{"compat", "scx_bpf_dsq_insert", "struct_ops/sched_ext_ops.enqueue", "7.3"}, ops, exitOK, "compatible:", ""},
		{[]string{"compat", "scx_bpf_dsq_insert", "struct_ops/sched_ext_ops.nosuch", "7.3"}, ops, exitBadArgs, "", "sched_ext_ops has no member nosuch (members: enqueue, dispatch, cgroup_set_idle)"},
		{[]string{"compat", "scx_bpf_dsq_insert", "struct_ops/nosuch_ops.enqueue", "7.3"}, ops, exitBadArgs, "", "no kernel registers a struct_ops kind nosuch_ops (kinds: sched_ext_ops, tcp_congestion_ops)"},
		{[]string{"compat", "scx_bpf_dsq_insert", "struct_ops/sched_ext_ops.enqueue", "6.12"}, ops, exitNo, "not compatible: sched_ext_ops.enqueue reached the kernels in 7.3, so 6.12 has no such struct_ops member\n", ""},
		{[]string{"compat", "scx_bpf_dsq_insert", "struct_ops/sched_ext_ops.cgroup_set_idle", "7.3"}, ops, exitOK, "no facts recorded for struct_ops/sched_ext_ops.cgroup_set_idle", ""},
		{[]string{"compat", "scx_bpf_dsq_insert", "struct_ops", "7.3"}, ops, exitOK, "compatible:", ""},
		{[]string{"compat", "scx_bpf_dsq_insert", "struct_ops/sched_ext_ops.nosuch", "7.3"}, empty, exitOK, "so sched_ext_ops.nosuch is not checked to exist", ""},
		{[]string{"list", "--prog-type", "struct_ops/sched_ext_ops.nosuch"}, ops, exitBadArgs, "", "sched_ext_ops has no member nosuch"},
		{[]string{"list", "--prog-type", "struct_ops/sched_ext_ops.enqueue", "--kernel", "6.12"}, ops, exitOK, "NAME", "note: no entries: sched_ext_ops.enqueue reached the kernels in 7.3"},
		{[]string{"list", "--prog-type", "struct_ops/sched_ext_ops.enqueue", "--kernel", "7.3"}, ops, exitOK, "scx_bpf_dsq_insert", "note: entries with no facts recorded for struct_ops/sched_ext_ops.enqueue are listed for its program type struct_ops\n"},
		{[]string{"list", "--prog-type", "struct_ops/sched_ext_ops.nosuch"}, empty, exitOK, "scx_bpf_dsq_insert", "so sched_ext_ops.nosuch is not checked to exist"},
		{[]string{"compat", "scx_bpf_dsq_insert", "struct_ops/sched_ext_ops.enqueue", "7.3"}, filepath.Join(t.TempDir(), "missing.yaml"), exitBadArgs, "", "missing.yaml"},
	}
	for _, tt := range tests {
		args := append(append([]string{"kfuncs"}, tt.args...), "--kfuncs", kfuncs, "--structops", tt.table)
		t.Run(strings.Join(tt.args, " ")+"@"+filepath.Base(tt.table), func(t *testing.T) {
			code, stdout, stderr := run(args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			if tt.code == exitNo && strings.Contains(stdout, "scx_bpf_dsq_insert") {
				t.Errorf("a kernel without the member answers from the kfunc's facts: %s", stdout)
			}
		})
	}
}
