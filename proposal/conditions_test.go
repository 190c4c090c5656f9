package proposal

import (
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// heldKernel is a kernel that offers bpf_list_pop_front and bpf_wq_init to tracepoint and
// sched_cls, and whose held-object facts are held ("OBJECT TYPE allowed|refused").
func heldKernel(name, version string, held ...string) verdict.Kernel {
	k := verdict.Kernel{Name: name, Version: registry.MustParseVersion(version)}
	k.Facts.Kfuncs = []observation.Kfunc{
		{Name: "bpf_list_pop_front", Prototype: "struct bpf_list_node *bpf_list_pop_front(struct bpf_list_head *head)", Tagged: true},
		{Name: "bpf_wq_init", Prototype: "int bpf_wq_init(struct bpf_wq *wq, void *p__const_map, unsigned int flags)", Tagged: true},
	}
	for _, kf := range []string{"bpf_list_pop_front", "bpf_wq_init"} {
		for _, t := range []string{"tracepoint", "sched_cls"} {
			k.Results = append(k.Results, observation.Result{Kfunc: kf, ProgType: t, Variant: t, Outcome: observation.Supported})
		}
	}
	for _, h := range held {
		f := strings.Fields(h)
		ho := observation.HeldObject{Object: f[0], Variant: f[1] + "/" + f[1], Allowed: f[2] == "allowed"}
		if !ho.Allowed {
			ho.Detail = "tracing progs cannot use " + f[0] + " yet"
		}
		k.Facts.HeldObjects = append(k.Facts.HeldObjects, ho)
	}
	return k
}

// heldMatrix: tracepoint may hold no list root anywhere, and a workqueue only from 7.1; 6.1
// predates the question (an older agent: no facts).
func heldMatrix() []verdict.Kernel {
	refusedUntil71 := func(name, version string, wq string) verdict.Kernel {
		return heldKernel(name, version, "bpf_list_head tracepoint refused", "bpf_list_head sched_cls allowed",
			"bpf_wq tracepoint "+wq, "bpf_wq sched_cls allowed")
	}
	return []verdict.Kernel{
		heldKernel("6.1", "6.1.192"),
		refusedUntil71("6.12", "6.12.118", "refused"),
		refusedUntil71("6.18", "6.18.15", "refused"),
		refusedUntil71("7.1", "7.1.13", "allowed"),
	}
}

// TestProposeConditions: sync proposes a condition per type whose variants may not hold the
// kfunc's object, with an until where a later kernel allows it; the file written loads, the
// kernels it came from confirm it, cells are marked, and a table without the condition is
// contradicted.
func TestProposeConditions(t *testing.T) {
	ks := heldMatrix()
	got, _ := Kfuncs(nil, ks)
	byName := map[string]*registry.Kfunc{}
	for _, k := range got {
		byName[k.Name] = k
	}
	list, wq := byName["bpf_list_pop_front"], byName["bpf_wq_init"]
	if c, ok := list.Conditions["tracepoint"]; !ok || !slices.Equal(c.Holds, []string{"bpf_list_head"}) || !c.Since.IsZero() || !c.Until.IsZero() ||
		!strings.Contains(c.Evidence, "6.12, 6.18, 7.1") || !strings.Contains(c.Evidence, "tracing progs cannot use bpf_list_head yet") {
		t.Errorf("bpf_list_pop_front conditions: %+v", list.Conditions)
	}
	if c, ok := wq.Conditions["tracepoint"]; !ok || c.Until.String() != "6.18" || !c.Since.IsZero() {
		t.Errorf("bpf_wq_init conditions: %+v", wq.Conditions)
	}
	if len(list.Conditions) != 1 || len(wq.Conditions) != 1 {
		t.Errorf("conditions beyond tracepoint: %+v %+v", list.Conditions, wq.Conditions)
	}
	table, kvs := confirmedTable(t, got, ks)
	for _, kv := range kvs {
		for _, tv := range kv.Types {
			for _, c := range tv.Cells {
				marked := slices.ContainsFunc(c.Conditions, func(s string) bool { return strings.HasPrefix(s, verdict.CannotHold) })
				want := tv.ProgType == "tracepoint" && c.Kernel != "6.1" && (kv.Name == "bpf_list_pop_front" || c.Kernel != "7.1")
				if marked != want {
					t.Errorf("%s %s on %s: conditions %v, want cannot_hold %v", kv.Name, tv.ProgType, c.Kernel, c.Conditions, want)
				}
			}
		}
	}
	// The next sync keeps the conditions; a table that lacks them is contradicted.
	again, changes := Kfuncs(table, ks)
	for i, c := range changes {
		if c.Kind != Unchanged {
			t.Errorf("second sync changes %s: %+v (%s)", again[i].Name, c, conditionsText(again[i].Conditions))
		}
	}
	for _, k := range got {
		k.Conditions = nil
	}
	bare := table2(t, got)
	for _, kv := range verdict.JudgeKfuncs(bare, ks) {
		if kv.Verdict != verdict.Contradicted || !strings.Contains(strings.Join(kv.Problems, "\n"), "conditions: 6.12: tracepoint programs may not hold") {
			t.Errorf("%s without its condition: %s %v", kv.Name, kv.Verdict, kv.Problems)
		}
	}
}

// TestConditionsKeptWithoutFacts: kernels that gave no held-object facts keep the conditions
// people or an earlier sync recorded.
func TestConditionsKeptWithoutFacts(t *testing.T) {
	ks := []verdict.Kernel{heldKernel("6.12", "6.12.118")}
	first, _ := Kfuncs(nil, heldMatrix())
	got, _ := Kfuncs(table2(t, first), ks)
	for _, k := range got {
		if _, ok := k.Conditions["tracepoint"]; !ok {
			t.Errorf("%s lost its condition: %+v", k.Name, k.Conditions)
		}
	}
}
