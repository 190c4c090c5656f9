package yamledit

import (
	"reflect"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// attachFacts are attach points of every shape the loader takes, with keys a YAML plain scalar
// could misread (a colon in a module target).
const attachFacts = `  attach_points:
    kprobe.session: {since: "6.10", evidence: "probe: 6.12, 7.3"}
    iter/tcp: {gaps: ["6.1..6.6"], until: "7.2", evidence: "probe: \"6.1\" refuses"}
    tp_btf/tcp_destroy_sock: {offered: false, evidence: "probe: 6.12"}
    fentry/nf_conntrack:nf_confirm: {evidence: "probe: 6.12"}
    struct_ops/sched_ext_ops: {since: "6.16", evidence: "probe: 6.16"}
`

// TestMarshalKfuncsAttachPoints: kfuncs sync writes attach_points so that the loader reads back
// the same facts.
func TestMarshalKfuncsAttachPoints(t *testing.T) {
	text := "- name: bpf_a\n  prototype: \"int bpf_a(void)\"\n  min_kernel: \"5.8\"\n  prog_types: [tracing]\n  category: misc\n" + attachFacts
	ks, err := registry.ParseKfuncs("k.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	out := MarshalKfuncs(ks.All())
	back, err := registry.ParseKfuncs("k.yaml", out)
	if err != nil {
		t.Fatalf("written file does not load: %v\n%s", err, out)
	}
	want, _ := ks.Lookup("bpf_a")
	got, _ := back.Lookup("bpf_a")
	if len(want.AttachPoints) != 5 || !reflect.DeepEqual(got.AttachPoints, want.AttachPoints) {
		t.Errorf("attach points read back as %+v, want %+v\n%s", got.AttachPoints, want.AttachPoints, out)
	}
	if !strings.Contains(string(out), `    tp_btf/tcp_destroy_sock: {offered: false, evidence: "probe: 6.12"}`) ||
		!strings.Contains(string(out), `    "fentry/nf_conntrack:nf_confirm": {evidence: "probe: 6.12"}`) {
		t.Errorf("unexpected shape:\n%s", out)
	}
}

// TestUpdateHelpersKeepsAttachPoints: helpers sync edits release facts in place and leaves the
// lines of attach_points as they are, with their facts.
func TestUpdateHelpersKeepsAttachPoints(t *testing.T) {
	base := strings.Replace(writeBase, "prog_types: [kprobe, xdp]", "prog_types: [kprobe, xdp, tracing]", 1)
	data := []byte(strings.Replace(base, "  description: One.\n", "  description: One.\n"+attachFacts, 1))
	reg, err := registry.Parse("h.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	one, _ := reg.Lookup("one")
	u := *one
	u.MinKernel = registry.MustParseVersion("5.4")
	out, err := UpdateHelpers("h.yaml", data, []*registry.Helper{&u})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), attachFacts) || !strings.Contains(string(out), `min_kernel: "5.4"`) {
		t.Errorf("attach points not kept, or the edit not made:\n%s", out)
	}
	after, err := registry.Parse("h.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := after.Lookup("one")
	if !reflect.DeepEqual(got.AttachPoints, one.AttachPoints) {
		t.Errorf("attach points read back as %+v, want %+v", got.AttachPoints, one.AttachPoints)
	}
}
