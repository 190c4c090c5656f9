package verdict

import (
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// withVariants adds the probe's facts of the variants the kernel's answers name: each spec is
// "prog_type/variant=section" ("" section for an older agent's), with "!" after the section for
// a variant the kernel could not load.
func withVariants(k Kernel, specs ...string) Kernel {
	for _, spec := range specs {
		name, sec, _ := strings.Cut(spec, "=")
		pt, variant, _ := strings.Cut(name, "/")
		usable := !strings.HasSuffix(sec, "!")
		v := observation.VariantInfo{Name: variant, Section: strings.TrimSuffix(sec, "!"), Usable: usable}
		found := false
		for i := range k.Facts.ProgTypes {
			if k.Facts.ProgTypes[i].Name == pt {
				k.Facts.ProgTypes[i].Variants = append(k.Facts.ProgTypes[i].Variants, v)
				found = true
			}
		}
		if !found {
			k.Facts.ProgTypes = append(k.Facts.ProgTypes, observation.ProgTypeInfo{Name: pt, Present: true, Variants: []observation.VariantInfo{v}})
		}
	}
	return k
}

// sessionKfunc is bpf_session_cookie as kfuncs.yaml would record it: offered to kprobe programs
// (kprobe.session), refused to kprobes attached as plain kprobes.
const sessionKfunc = `- name: bpf_session_cookie
  prototype: "__u64 *bpf_session_cookie(void)"
  min_kernel: "6.12"
  prog_types: [kprobe]
  attach_points:
    kprobe: {offered: false, evidence: "probe: refused on 6.12 at kprobe"}
  category: trace
`

// sessionKernel is a 6.12 with bpf_session_cookie whose kprobe and kprobe.session variants
// answered as given.
func sessionKernel(kprobe, session string, sections ...string) Kernel {
	k := Kernel{Name: "6.12", Version: registry.MustParseVersion("6.12.57")}
	k.Facts.Kfuncs = []observation.Kfunc{{Name: "bpf_session_cookie", Prototype: "__u64 *bpf_session_cookie(void)", Tagged: true}}
	for _, a := range []struct{ variant, outcome string }{{"kprobe", kprobe}, {"kprobe.session", session}} {
		k.Results = append(k.Results, observation.Result{Kfunc: "bpf_session_cookie", ProgType: "kprobe", Variant: a.variant,
			Outcome: observation.Outcome(a.outcome), Detail: "line " + a.outcome})
	}
	return withVariants(k, sections...)
}

// TestAttachPointVerdicts: each recorded attach point is judged against the variants that
// answer for it, for kfuncs and helpers alike; failed kernels, older agents' documents and
// variants the kernel could not load are no evidence.
func TestAttachPointVerdicts(t *testing.T) {
	table, err := registry.ParseKfuncs("k.yaml", []byte(sessionKfunc))
	if err != nil {
		t.Fatal(err)
	}
	sections := []string{"kprobe/kprobe=kprobe", "kprobe/kprobe.session=kprobe.session"}
	failed := Kernel{Name: "7.3", Version: registry.MustParseVersion("7.3.1"), Failed: true, Error: "guest panicked"}
	tests := []struct {
		name    string
		ks      []Kernel
		verdict Word
		reason  string
		entry   Word
	}{
		{"refused at kprobe as declared", []Kernel{sessionKernel("not_for_type", "supported", sections...)}, Confirmed, "refused on 6.12 at kprobe, as declared (not offered)", Consistent},
		{"offered at kprobe", []Kernel{sessionKernel("supported", "supported", sections...)}, Contradicted, "declared not offered at kprobe, but 6.12 disagrees: 6.12 answered offered (kprobe: line supported)", Contradicted},
		{"failed kernel", []Kernel{failed}, NoEvidence, "no kernel answered at kprobe", NoEvidence},
		{"older agent", []Kernel{sessionKernel("supported", "supported", "kprobe/kprobe=", "kprobe/kprobe.session=")}, NoEvidence, "no kernel answered", Consistent},
		{"unusable variant", []Kernel{sessionKernel("supported", "supported", "kprobe/kprobe=kprobe!", "kprobe/kprobe.session=kprobe.session")}, NoEvidence, "no kernel answered", Consistent},
		{"inconclusive", []Kernel{sessionKernel("inconclusive", "supported", sections...)}, NoEvidence, "no kernel answered", Consistent},
	}
	for _, tt := range tests {
		kv := JudgeKfuncs(table, tt.ks)[0]
		if len(kv.AttachPoints) != 1 {
			t.Fatalf("%s: %d attach point verdicts", tt.name, len(kv.AttachPoints))
		}
		pv := kv.AttachPoints[0]
		if pv.Key != "kprobe" || pv.Verdict != tt.verdict || !strings.Contains(pv.Reason, tt.reason) || kv.Verdict != tt.entry {
			t.Errorf("%s: %s %s %q (entry %s); want %s %q (entry %s)", tt.name, pv.Key, pv.Verdict, pv.Reason, kv.Verdict, tt.verdict, tt.reason, tt.entry)
		}
		if tt.verdict == Contradicted && (len(kv.Problems) != 1 || !strings.HasPrefix(kv.Problems[0], "attach point kprobe: declared not offered")) {
			t.Errorf("%s: problems %q", tt.name, kv.Problems)
		}
	}
}

// TestAttachPointTargetRefusal: a refusal for the target at a key naming one (fentry/d_path) is
// the attach point's refusal; at the generic key (tracing) it is an offer at some targets.
func TestAttachPointTargetRefusal(t *testing.T) {
	const dPath = `- id: 147
  name: d_path
  signature: {return: long, args: []}
  min_kernel: "5.10"
  prog_types: [tracing]
  attach_points:
    fentry/d_path: {offered: false, evidence: "probe: refused on 6.12 at fentry/d_path"}
    fentry/dentry_open: {evidence: "probe: offered on 6.12 at fentry/dentry_open"}
  gpl_only: false
  category: trace
  description: Path of a struct path.
`
	k := withVariants(kernel("6.12", "6.12.57", "147 tracing/fentry not_for_target", "147 tracing/fentry_d_path not_for_target", "147 tracing/fentry_dentry_open supported"),
		"tracing/fentry=tracing", "tracing/fentry_d_path=fentry/d_path", "tracing/fentry_dentry_open=fentry/dentry_open")
	hv := find(t, Judge(reg(t, dPath), nil, []Kernel{k}), "d_path")
	got := map[string]Word{}
	for _, pv := range hv.AttachPoints {
		got[pv.Key] = pv.Verdict
	}
	if got["fentry/d_path"] != Confirmed || got["fentry/dentry_open"] != Confirmed || hv.Verdict == Contradicted {
		t.Errorf("verdicts %v, entry %s %q", got, hv.Verdict, hv.Problems)
	}
	cells := PointCells(k, k.Results)
	if c := cells["tracing"]; c.State != StateOffered || strings.Join(c.Conditions, ",") != "not_for_target" {
		t.Errorf("tracing: %+v, want offered at some targets", c)
	}
}
