package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// TestOfferedWithConditions: a kfunc a kernel offers to a type that may not hold its object is
// listed offered with conditions in the JSON summary (with the registry's condition), the
// Markdown and the page, and its cell there is shaded conditional.
func TestOfferedWithConditions(t *testing.T) {
	const proto = "struct bpf_list_node *bpf_list_pop_front(struct bpf_list_head *head)"
	k := obs("6.12", "6.12.118",
		observation.Result{Kfunc: "bpf_list_pop_front", ProgType: "tracepoint", Variant: "tracepoint", Outcome: observation.Supported, Detail: "arg#0"},
		observation.Result{Kfunc: "bpf_list_pop_front", ProgType: "sched_cls", Variant: "sched_cls", Outcome: observation.Supported, Detail: "arg#0"})
	k.Facts.Kfuncs = []observation.Kfunc{{Name: "bpf_list_pop_front", Prototype: proto, Tagged: true}}
	k.Facts.HeldObjects = []observation.HeldObject{
		{Object: "bpf_list_head", Variant: "tracepoint/tracepoint", Detail: "tracing progs cannot use bpf_{list_head,rb_root} yet"},
		{Object: "bpf_list_head", Variant: "sched_cls/sched_cls", Allowed: true},
	}
	table, err := registry.ParseKfuncs("k.yaml", []byte(`- name: bpf_list_pop_front
  prototype: "`+proto+`"
  min_kernel: "6.12"
  prog_types: [sched_cls, tracepoint]
  conditions: {tracepoint: {holds: [bpf_list_head], evidence: "probe: 6.12"}}
  category: graph
`))
	if err != nil {
		t.Fatal(err)
	}
	r := Build(testRegistry(t), nil, []Kernel{k}, "bpfmatrix test")
	r.AddKfuncs(table, []Kernel{k})
	offers := r.Summary.Kfuncs.OfferedWithConditions
	if len(offers) != 1 || offers[0].ProgType != "tracepoint" || len(offers[0].Kernels) != 1 ||
		offers[0].Kernels[0].Conditions[0] != "cannot_hold:bpf_list_head" || !strings.Contains(offers[0].Registry, "may not hold") {
		t.Fatalf("offered with conditions: %+v", offers)
	}
	if v := r.Kfuncs[0].Verdict; v == "contradicted" {
		t.Errorf("verdict %s: %v", v, r.Kfuncs[0].Problems)
	}
	b, err := json.Marshal(r.Summary.Kfuncs)
	if err != nil || !strings.Contains(string(b), `"offered_with_conditions":[{"kfunc":"bpf_list_pop_front","prog_type":"tracepoint","kernels":[{"kernel":"6.12","conditions":["cannot_hold:bpf_list_head"]}]`) {
		t.Errorf("JSON summary %s (%v)", b, err)
	}
	var md, page bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "- bpf_list_pop_front in tracepoint: 6.12 cannot_hold:bpf_list_head (the registry records it)") {
		t.Errorf("Markdown lacks the offer:\n%s", md.String())
	}
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), `<table id="conditions"`) || !strings.Contains(page.String(), `class="cell s-C" title="bpf_list_pop_front in tracepoint on 6.12: offered with conditions (cannot_hold:bpf_list_head)`) {
		t.Errorf("page lacks the offer")
	}
}
