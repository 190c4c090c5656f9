package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// pointTable is a kfunc table recording that bpf_task_acquire refuses tp_btf programs attached
// at tcp_destroy_sock, which the kernel of pointKernels contradicts.
const pointTable = `- name: bpf_task_acquire
  prototype: "struct task_struct *bpf_task_acquire(struct task_struct *p)"
  min_kernel: "6.1"
  prog_types: [tracing]
  attach_points:
    tp_btf/tcp_destroy_sock: {offered: false, evidence: "a person's reading"}
    iter/tcp: {evidence: "probe: offered on 6.1 at iter/tcp"}
  category: task
`

// pointKernels: a 6.1 whose probe answered for bpf_task_acquire at tp_btf/tcp_destroy_sock
// (offered, against the table) and at iter/tcp (offered, as recorded), and a failed 7.3.
func pointKernels() []Kernel {
	k := obs("6.1", "6.1.192",
		observation.Result{Kfunc: "bpf_task_acquire", ProgType: "tracing", Variant: "tp_btf_tcp_destroy_sock", Outcome: observation.Supported, Detail: "processed 9 insns"},
		observation.Result{Kfunc: "bpf_task_acquire", ProgType: "tracing", Variant: "iter_tcp", Outcome: observation.Supported, Detail: "processed 7 insns"})
	k.Facts.Kfuncs = []observation.Kfunc{{Name: "bpf_task_acquire", Prototype: "struct task_struct *bpf_task_acquire(struct task_struct *p)", Tagged: true}}
	k.Facts.ProgTypes = []observation.ProgTypeInfo{{Name: "tracing", Present: true, Variants: []observation.VariantInfo{
		{Name: "tp_btf_tcp_destroy_sock", Section: "tp_btf/tcp_destroy_sock", Target: "btf_trace_tcp_destroy_sock", Usable: true},
		{Name: "iter_tcp", Section: "iter/tcp", Target: "bpf_iter_tcp", Usable: true},
	}}}
	failed := obs("7.3", "7.3.4")
	failed.Failed, failed.Error = true, "guest: kernel panic"
	return []Kernel{k, failed}
}

// TestAttachPointsInReports: every format shows the attach point claims with their verdicts,
// and a contradicted one fails the report as any contradiction does.
func TestAttachPointsInReports(t *testing.T) {
	table, err := registry.ParseKfuncs("kfuncs.yaml", []byte(pointTable))
	if err != nil {
		t.Fatal(err)
	}
	ks := pointKernels()
	r := Build(testRegistry(t), nil, ks, "bpfmatrix test")
	r.AddKfuncs(table, ks)
	if !r.Failed() || len(r.Summary.Kfuncs.Contradicted) != 1 {
		t.Errorf("a contradicted attach point does not fail the report: %+v", r.Summary.Kfuncs)
	}
	var md, page, js strings.Builder
	for _, w := range []func() error{func() error { return r.WriteMarkdown(&md) }, func() error { return r.WriteHTML(&page) }, func() error { return r.WriteJSON(&js) }} {
		if err := w(); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string][]string{
		"report.md": {"## Attach points", "| bpf_task_acquire | tp_btf/tcp_destroy_sock | not offered | contradicted | declared not offered at tp_btf/tcp_destroy_sock, but 6.1 disagrees",
			"| bpf_task_acquire | iter/tcp | offered | confirmed | offered on 6.1 at iter/tcp, as declared"},
		"report.html": {`<table id="attach-points"`, `<td>tp_btf/tcp_destroy_sock</td><td>not offered</td><td class="verdict v-contradicted"`, `class="cell s-O contra"`, `class="cell s-F"`},
		"report.json": {`"attach_points": [`, `"key": "tp_btf/tcp_destroy_sock"`},
	} {
		text := map[string]string{"report.md": md.String(), "report.html": page.String(), "report.json": js.String()}[name]
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q", name, w)
			}
		}
	}
	var back Report
	if err := json.Unmarshal([]byte(js.String()), &back); err != nil || len(back.Kfuncs[0].AttachPoints) != 2 {
		t.Errorf("JSON attach points do not read back: %v", err)
	}
}
