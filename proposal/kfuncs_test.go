package proposal

import (
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/registry/yamledit"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// kernel makes a kernel whose BTF tags the kfuncs named in has, and whose answers are
// "kfunc prog_type outcome".
func kernel(name, version string, has []string, answers ...string) verdict.Kernel {
	k := verdict.Kernel{Name: name, Version: registry.MustParseVersion(version)}
	for _, h := range has {
		k.Facts.Kfuncs = append(k.Facts.Kfuncs, observation.Kfunc{Name: h, Prototype: "int " + h + "(void)", Tagged: true})
	}
	for _, a := range answers {
		f := strings.Fields(a)
		k.Results = append(k.Results, observation.Result{Kfunc: f[0], ProgType: f[1], Variant: f[1], Outcome: observation.Outcome(f[2])})
	}
	return k
}

func matrix() []verdict.Kernel {
	return []verdict.Kernel{
		kernel("6.12", "6.12.118", []string{"bpf_a"}, "bpf_a xdp supported", "bpf_a tracing not_for_type"),
		kernel("7.0", "7.0.13", []string{"bpf_a", "bpf_b"}, "bpf_a xdp supported", "bpf_a tracing supported", "bpf_b tracing supported", "bpf_b xdp not_for_type"),
		kernel("7.1", "7.1.13", []string{"bpf_a"}, "bpf_a xdp supported", "bpf_a tracing not_for_type"),
		kernel("7.3", "7.3.4", []string{"bpf_a", "bpf_b"}, "bpf_a xdp supported", "bpf_a tracing supported", "bpf_b tracing supported", "bpf_b xdp not_for_type"),
	}
}

// TestProposeKfuncs: releases, gaps and program types come from the kernels, and the written
// file loads and is judged consistent with the kernels it came from.
func TestProposeKfuncs(t *testing.T) {
	ks := matrix()
	got, changes := Kfuncs(nil, ks)
	if len(got) != 2 || len(changes) != 2 || changes[0].Kind != "added" {
		t.Fatalf("proposal %v, changes %v", got, changes)
	}
	a, b := got[0], got[1]
	if a.MinKernel.String() != "6.12" || a.ProgTypes.String() != "xdp, tracing" || a.ProgTypeSince["tracing"].String() != "7.0" ||
		len(a.ProgTypeGaps["tracing"]) != 1 || a.ProgTypeGaps["tracing"][0].String() != "7.1..7.1" {
		t.Errorf("bpf_a: %+v", a)
	}
	if b.MinKernel.String() != "7.0" || len(b.Gaps) != 1 || b.Gaps[0].String() != "7.1..7.1" || b.ProgTypes.String() != "tracing" {
		t.Errorf("bpf_b: %+v", b)
	}
	file := yamledit.MarshalKfuncs(got)
	table, err := registry.ParseKfuncs("kfuncs.yaml", file)
	if err != nil {
		t.Fatalf("%v\n%s", err, file)
	}
	for _, kv := range verdict.JudgeKfuncs(table, ks) {
		if kv.Verdict == verdict.Contradicted {
			t.Errorf("%s contradicted by the kernels it came from: %v", kv.Name, kv.Problems)
		}
	}
	// What people wrote is kept by the next sync.
	a.Description, a.Category = "Does A.", "task"
	again, changes := Kfuncs(table2(t, got), ks)
	if again[0].Description != "Does A." || again[0].Category != "task" || changes[0].Kind != "unchanged" {
		t.Errorf("sync lost what people wrote: %+v %v", again[0], changes[0])
	}
}

func table2(t *testing.T, ks []*registry.Kfunc) *registry.Kfuncs {
	table, err := registry.ParseKfuncs("kfuncs.yaml", yamledit.MarshalKfuncs(ks))
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// TestKfuncVerdictsNotCircular: edits of a synced file are contradicted by the same kernels.
func TestKfuncVerdictsNotCircular(t *testing.T) {
	ks := matrix()
	good, _ := Kfuncs(nil, ks)
	base := string(yamledit.MarshalKfuncs(good))
	edits := []struct {
		name, from, to, want string
	}{
		{"program type added", "prog_types: [tracing]", "prog_types: [xdp, tracing]", "xdp"},
		{"first release moved later", `min_kernel: "6.12"`, `min_kernel: "6.13"`, "min_kernel"},
		{"a kfunc no kernel has", "- name: bpf_b\n", "- name: bpf_zzz\n  prototype: \"int bpf_zzz(void)\"\n  min_kernel: \"6.12\"\n  prog_types: [xdp]\n  category: misc\n- name: bpf_b\n", "min_kernel"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			text := strings.Replace(base, e.from, e.to, 1)
			if text == base {
				t.Fatalf("edit %q did not apply", e.from)
			}
			table, err := registry.ParseKfuncs("kfuncs.yaml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			contradicted := false
			for _, kv := range verdict.JudgeKfuncs(table, ks) {
				for _, f := range kv.Findings {
					if kv.Verdict == verdict.Contradicted && strings.Contains(strings.Join(f.Subjects, " "), e.want) {
						contradicted = true
					}
				}
			}
			if !contradicted {
				t.Errorf("edit not contradicted:\n%s", text)
			}
		})
	}
}

// TestKfuncChanges: a kfunc's changes are of the helpers' type: one per changed key, with old
// and new values and the kernels that have it as evidence; an entry no kernel has is kept.
func TestKfuncChanges(t *testing.T) {
	ks := matrix()
	got, _ := Kfuncs(nil, ks)
	text := strings.Replace(string(yamledit.MarshalKfuncs(got)), `min_kernel: "6.12"`, `min_kernel: "6.13"`, 1) +
		"- name: bpf_zzz\n  prototype: \"int bpf_zzz(void)\"\n  min_kernel: \"6.12\"\n  prog_types: [xdp]\n  category: misc\n"
	table, err := registry.ParseKfuncs("kfuncs.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	_, changes := Kfuncs(table, ks)
	var lines []string
	for _, c := range changes {
		lines = append(lines, c.Kind+" "+c.String())
	}
	want := []string{
		`changed bpf_a min_kernel: "6.13" -> "6.12"; evidence: 6.12..7.3 offered`,
		`unchanged bpf_b: unchanged; evidence: 6.12 unknown_id; 7.0 offered; 7.1 unknown_id; 7.3 offered`,
		`kept bpf_zzz: kept; evidence: `,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
