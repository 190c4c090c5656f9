package registry

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestObjectsHeld reads the objects from prototypes as the kernels' BTF renders them: the
// parameters count, the return type does not, a node stands for its root.
func TestObjectsHeld(t *testing.T) {
	tests := []struct {
		prototype string
		want      []string
	}{
		{"int bpf_list_push_front_impl(struct bpf_list_head *head, struct bpf_list_node *node, void *meta__ign, u64 off)", []string{"bpf_list_head"}},
		{"struct bpf_list_node *bpf_list_front(struct bpf_list_head *head)", []string{"bpf_list_head"}},
		{"struct bpf_rb_node *bpf_rbtree_first(struct bpf_rb_root *root)", []string{"bpf_rb_root"}},
		{"int bpf_rbtree_add(struct bpf_rb_root *root, struct bpf_rb_node *node, bool (*less)(struct bpf_rb_node *, const struct bpf_rb_node *))", []string{"bpf_rb_root"}},
		{"struct bpf_rb_node *bpf_rbtree_left(struct bpf_rb_node *node)", []string{"bpf_rb_root"}},
		{"int bpf_res_spin_lock_irqsave(struct bpf_res_spin_lock *lock, long unsigned int *flags__irq_flag)", []string{"bpf_res_spin_lock"}},
		{"int bpf_wq_init(struct bpf_wq *wq, void *p__const_map, unsigned int flags)", []string{"bpf_wq"}},
		{"struct task_struct *bpf_task_acquire(struct task_struct *p)", nil},
		{"struct bpf_list_node *odd(void)", nil},
		{"no parameter list", nil},
	}
	for _, tt := range tests {
		if got := ObjectsHeld(tt.prototype); !slices.Equal(got, tt.want) {
			t.Errorf("ObjectsHeld(%q) = %v, want %v", tt.prototype, got, tt.want)
		}
	}
}

// conditionEntry is a list kfunc offered to tracepoint and sched_cls, with extra lines.
func conditionEntry(extra ...string) string {
	return kfuncText("bpf_list_pop_front", "struct bpf_list_node *bpf_list_pop_front(struct bpf_list_head *head)", "6.2",
		"sched_cls, tracepoint", "graph", extra...)
}

// TestFaultConditionsParse: every mistake in conditions is refused at its line.
func TestFaultConditionsParse(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  string
	}{
		{"empty", []string{"  conditions: {}"}, "k.yaml:6: conditions: empty mapping: leave the key out"},
		{"a list", []string{"  conditions: [tracepoint]"}, "k.yaml:6: conditions: want a mapping, found a list"},
		{"unknown type", []string{"  conditions: {tracepont: {holds: [bpf_list_head], evidence: e}}"}, `k.yaml:6: conditions: unknown program type "tracepont"`},
		{"type not offered", []string{"  conditions: {kprobe: {holds: [bpf_list_head], evidence: e}}"}, "k.yaml:6: conditions names kprobe, which prog_types does not list"},
		{"unknown object", []string{"  conditions: {tracepoint: {holds: [bpf_lst_head], evidence: e}}"}, `k.yaml:6: conditions.tracepoint.holds: unknown object "bpf_lst_head"`},
		{"object not taken", []string{"  conditions: {tracepoint: {holds: [bpf_wq], evidence: e}}"}, "k.yaml:6: conditions.tracepoint holds bpf_wq, which the prototype does not take"},
		{"no holds", []string{"  conditions: {tracepoint: {evidence: e}}"}, "k.yaml:6: conditions.tracepoint needs holds"},
		{"no evidence", []string{"  conditions: {tracepoint: {holds: [bpf_list_head]}}"}, "k.yaml:6: conditions.tracepoint needs evidence"},
		{"unknown key", []string{"  conditions: {tracepoint: {holds: [bpf_list_head], evidence: e, why: x}}"}, `k.yaml:6: conditions.tracepoint: unknown key "why" (known: holds, since, until, gaps, evidence)`},
		{"until before since", []string{`  conditions: {tracepoint: {holds: [bpf_list_head], since: "7.0", until: "6.12", evidence: e}}`}, "k.yaml:6: conditions.tracepoint: until 6.12 is older than since 7.0"},
		{"duplicate type", []string{"  conditions:", "    tracepoint: {holds: [bpf_list_head], evidence: e}", "    tracepoint: {holds: [bpf_list_head], evidence: f}"}, `k.yaml:8: conditions: duplicate key "tracepoint"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { refusedByKfuncLoader(t, conditionEntry(tt.extra...), tt.want) })
	}
}

// TestConditionOn: a condition applies on the releases its span names, is shown by Describe
// and written to JSON with the file's keys.
func TestConditionOn(t *testing.T) {
	ks, err := ParseKfuncs("k.yaml", []byte(conditionEntry(
		`  conditions: {tracepoint: {holds: [bpf_list_head], until: "7.1", gaps: ["6.16..6.17"], evidence: "probe: 6.12 refuses"}}`)))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ks.Lookup("bpf_list_pop_front")
	tests := []struct {
		progType, kernel string
		want             bool
	}{
		{"tracepoint", "6.12", true},
		{"tracepoint", "6.16", false},
		{"tracepoint", "7.1.4", true},
		{"tracepoint", "7.2", false},
		{"tracepoint", "", true},
		{"sched_cls", "6.12", false},
	}
	for _, tt := range tests {
		var v Version
		if tt.kernel != "" {
			v = MustParseVersion(tt.kernel)
		}
		if _, got := k.ConditionOn(tt.progType, v); got != tt.want {
			t.Errorf("ConditionOn(%s, %s) = %v, want %v", tt.progType, tt.kernel, got, tt.want)
		}
	}
	if d := k.Describe(); !strings.Contains(d, "offered with conditions: bpf_list_pop_front is offered to tracepoint programs with conditions: it works on a bpf_list_head held in a map value, which tracepoint programs may not hold (until 7.1, not in 6.16..6.17); evidence: probe: 6.12 refuses") {
		t.Errorf("Describe lacks the condition:\n%s", d)
	}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"conditions":{"tracepoint":{"holds":["bpf_list_head"],"until":"7.1","gaps":["6.16..6.17"],"evidence":"probe: 6.12 refuses"}}`; !strings.Contains(string(b), want) {
		t.Errorf("JSON %s lacks %s", b, want)
	}
}
