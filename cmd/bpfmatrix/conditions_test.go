package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// conditionedKfuncs is a kfunc file whose list kfunc is offered to tracepoint with conditions
// until 7.1 and to sched_cls plainly.
const conditionedKfuncs = `- name: bpf_list_pop_front
  prototype: "struct bpf_list_node *bpf_list_pop_front(struct bpf_list_head *head)"
  min_kernel: "6.2"
  prog_types: [sched_cls, tracepoint]
  conditions:
    tracepoint: {holds: [bpf_list_head], until: "7.1", evidence: "probe: 6.12 refuses the map"}
  category: graph
  description: Pops the first node of a list.
`

// TestKfuncsConditions: compat answers a kfunc offered with conditions "not compatible" (exit
// 1) with the condition explained, where and when the condition applies; info shows it; a
// condition the loader refuses is bad input naming file and line.
func TestKfuncsConditions(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "kfuncs.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	testenv.WriteFile(t, good, []byte(conditionedKfuncs))
	testenv.WriteFile(t, bad, []byte(strings.Replace(conditionedKfuncs, "holds: [bpf_list_head]", "holds: [bpf_wq]", 1)))
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"kfuncs", "compat", "bpf_list_pop_front", "tracepoint", "6.12", "--kfuncs", good}, 1,
			"not compatible: bpf_list_pop_front is offered to tracepoint programs with conditions: it works on a bpf_list_head held in a map value, which tracepoint programs may not hold (until 7.1); evidence: probe: 6.12 refuses the map (6.12)", ""},
		{[]string{"kfuncs", "compat", "bpf_list_pop_front", "tracepoint", "7.2", "--kfuncs", good}, 0, "compatible", ""},
		{[]string{"kfuncs", "compat", "bpf_list_pop_front", "sched_cls", "6.12", "--kfuncs", good}, 0, "compatible", ""},
		{[]string{"kfuncs", "compat", "bpf_list_pop_front", "tc", "6.12", "--kfuncs", good}, 0, "compatible", ""},
		{[]string{"kfuncs", "info", "bpf_list_pop_front", "--kfuncs", good}, 0, "  offered with conditions: bpf_list_pop_front is offered to tracepoint programs with conditions", ""},
		{[]string{"kfuncs", "info", "bpf_list_pop_front", "--kfuncs", good, "--format", "json"}, 0, `"conditions": {`, ""},
		{[]string{"kfuncs", "compat", "bpf_list_pop_front", "tracepoint", "6.12", "--kfuncs", bad}, 2, "", "bad.yaml:6: conditions.tracepoint holds bpf_wq, which the prototype does not take"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:5], " "), func(t *testing.T) {
			code, stdout, stderr := run(tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
		})
	}
}
