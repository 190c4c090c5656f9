package proposal

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/registry/yamledit"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// syncKernels are the tested kernels of the helper tests, oldest first.
var syncKernels = []struct{ name, version string }{
	{"5.10", "5.10.262"}, {"6.1", "6.1.192"}, {"6.12", "6.12.118"}, {"7.0", "7.0.13"}, {"7.3", "7.3.4"},
}

// outcomeWords are the one-letter answers of a row: one letter per kernel of syncKernels.
var outcomeWords = map[byte]observation.Outcome{
	's': observation.Supported, 'g': observation.GPLOnly, 'r': observation.NotForType,
	'u': observation.UnknownID, 'i': observation.Inconclusive,
}

// helperKernels builds the kernels' observations of helper 100 from rows "prog_type letters":
// one letter per kernel ('.' for no answer). Kernels named in failed failed; btf gives a
// kernel's BTF helper ids.
func helperKernels(t *testing.T, rows []string, failed []string, btf map[string][]int) []verdict.Kernel {
	t.Helper()
	var ks []verdict.Kernel
	for i, sk := range syncKernels {
		k := verdict.Kernel{Name: sk.name, Version: registry.MustParseVersion(sk.version), Failed: slices.Contains(failed, sk.name)}
		k.Facts.BTFHelperIDs = btf[sk.name]
		for _, row := range rows {
			pt, letters, _ := strings.Cut(row, " ")
			if len(letters) != len(syncKernels) {
				t.Fatalf("row %q: want %d letters", row, len(syncKernels))
			}
			if letters[i] == '.' {
				continue
			}
			o, ok := outcomeWords[letters[i]]
			if !ok {
				t.Fatalf("row %q: letter %q", row, letters[i])
			}
			k.Results = append(k.Results, observation.Result{HelperID: 100, ProgType: pt, Variant: pt, Outcome: o, Detail: string(o) + " on " + sk.name})
		}
		if k.Failed {
			k.Error = "guest crashed"
		}
		ks = append(ks, k)
	}
	return ks
}

// entry is helper 100's registry text with the release facts given in YAML lines.
func entry(facts string) string {
	return "- id: 100\n  name: probe_me\n  signature: {return: long, args: []}\n" + facts +
		"  gpl_only: false\n  category: trace\n  description: A helper of the tests.\n  sources:\n    min_kernel: a test\n"
}

// short renders changes as "key[.type]: old -> new" (open changes as "key: old -> ?").
func short(cs []Change) []string {
	var out []string
	for _, c := range cs {
		key := c.Key
		if c.ProgType != "" && c.Key != "prog_types" {
			key += "." + c.ProgType
		}
		switch {
		case c.Open:
			out = append(out, key+": "+c.Old+" -> ?")
		case c.Key == "prog_types" && c.New != "":
			out = append(out, "prog_types: +"+c.New)
		case c.Key == "prog_types":
			out = append(out, "prog_types: -"+c.Old)
		default:
			out = append(out, fmt.Sprintf("%s: %s -> %s", key, c.Old, c.New))
		}
	}
	return out
}

func TestProposeHelpers(t *testing.T) {
	cases := []struct {
		name   string
		facts  string
		rows   []string
		failed []string
		btf    map[string][]int
		want   []string
	}{
		{
			name:  "a real first release between tested kernels is kept",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [xdp]\n",
			rows:  []string{"xdp sssss"},
		},
		{
			name:  "a first release in the interval the kernels leave is kept",
			facts: "  min_kernel: \"6.5\"\n  prog_types: [xdp]\n",
			rows:  []string{"xdp uusss"},
		},
		{
			name:  "min_kernel older than kernels that lack the id",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [xdp]\n",
			rows:  []string{"xdp uusss"},
			want:  []string{"min_kernel: 5.8 -> 6.12"},
		},
		{
			name:  "min_kernel newer than kernels that have it",
			facts: "  min_kernel: \"7.0\"\n  prog_types: [xdp]\n",
			rows:  []string{"xdp sssss"},
			want:  []string{"min_kernel: 7.0 -> 5.10"},
		},
		{
			name:  "a later min_kernel takes the per-type releases it passes with it",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [xdp, kprobe]\n  prog_type_since: {xdp: \"6.1\"}\n",
			rows:  []string{"xdp uusss", "kprobe uusss"},
			want:  []string{"min_kernel: 5.8 -> 6.12", "prog_type_since.xdp: 6.1 -> "},
		},
		{
			name:  "a missing first release per type",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [kprobe, xdp]\n",
			rows:  []string{"kprobe sssss", "xdp rrsss"},
			want:  []string{"prog_type_since.xdp:  -> 6.12"},
		},
		{
			name:  "a first release per type the kernels contradict",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [kprobe, xdp, lsm]\n  prog_type_since:\n    xdp: \"7.0\"\n    lsm: \"6.5\"\n",
			rows:  []string{"kprobe sssss", "xdp rrsss", "lsm rrsss"},
			want:  []string{"prog_type_since.xdp: 7.0 -> 6.12"},
		},
		{
			name:  "a withdrawal: the last release",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [kprobe, xdp]\n",
			rows:  []string{"kprobe sssss", "xdp sssrr"},
			want:  []string{"prog_type_until.xdp:  -> 6.12"},
		},
		{
			name:  "a last release the kernels agree with is kept",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [kprobe, xdp]\n  prog_type_until: {xdp: \"6.15\"}\n",
			rows:  []string{"kprobe sssss", "xdp sssrr"},
		},
		{
			name:  "a last release that kernels after it contradict is dropped",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [kprobe, xdp]\n  prog_type_until: {xdp: \"6.1\"}\n",
			rows:  []string{"kprobe sssss", "xdp sssss"},
			want:  []string{"prog_type_until.xdp: 6.1 -> "},
		},
		{
			name:  "gaps: withdrawn, then offered again",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [kprobe, lwt_seg6local]\n",
			rows:  []string{"kprobe sssss", "lwt_seg6local srsrs"},
			want:  []string{"prog_type_gaps.lwt_seg6local:  -> 6.1..6.1, 7.0..7.0"},
		},
		{
			name:  "a gap the kernels agree with is kept, a wrong last release replaced",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [kprobe, lwt_seg6local]\n  prog_type_until: {lwt_seg6local: \"6.12\"}\n  prog_type_gaps: {lwt_seg6local: [\"6.1..6.1\"]}\n",
			rows:  []string{"kprobe sssss", "lwt_seg6local srssr"},
			want:  []string{"prog_type_until.lwt_seg6local: 6.12 -> 7.0"},
		},
		{
			name:   "failed kernels and inconclusive answers move nothing",
			facts:  "  min_kernel: \"5.8\"\n  prog_types: [kprobe, xdp]\n  prog_type_since: {xdp: \"7.0\"}\n",
			rows:   []string{"kprobe sssss", "xdp risss"},
			failed: []string{"6.12"},
		},
		{
			name:  "inconclusive answers and absent types are no withdrawal",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [kprobe, xdp]\n",
			rows:  []string{"kprobe sss..", "xdp sssii"},
		},
		{
			name:  "a program type the registry omits",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [kprobe]\n",
			rows:  []string{"kprobe sssss", "lsm ..ggg"},
			want:  []string{"prog_types: +lsm"},
		},
		{
			name:  "a program type the registry omits, offered from a later kernel",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [kprobe]\n",
			rows:  []string{"kprobe sssss", "lsm rrrgg"},
			want:  []string{"prog_types: +lsm", "prog_type_since.lsm:  -> 7.0"},
		},
		{
			name:  "a declared program type every kernel refuses",
			facts: "  min_kernel: \"5.8\"\n  prog_types: [kprobe, xdp]\n  prog_type_since: {xdp: \"6.1\"}\n",
			rows:  []string{"kprobe sssss", "xdp rrrrr"},
			want:  []string{"prog_types: -xdp", "prog_type_since.xdp: 6.1 -> "},
		},
		{
			name:  "all program types but one",
			facts: "  min_kernel: \"5.8\"\n  prog_types: all\n",
			rows:  []string{"kprobe sssss", "xdp rrrrr"},
			want:  []string{"prog_types: -xdp"},
		},
		{
			name:  "an id no kernel knows is left for a person",
			facts: "  min_kernel: \"6.3\"\n  prog_types: [kprobe]\n",
			rows:  []string{"kprobe uuuuu"},
			want:  []string{"min_kernel: 6.3 -> ?"},
		},
		{
			name:  "the BTF id list speaks where every answer was inconclusive",
			facts: "  min_kernel: \"6.12\"\n  prog_types: [kprobe]\n",
			rows:  []string{"kprobe iisss"},
			btf:   map[string][]int{"5.10": {1, 2}, "6.1": {1, 2, 100}},
			want:  []string{"min_kernel: 6.12 -> 6.1"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := entry(c.facts)
			reg, err := registry.Parse("helpers.yaml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			ks := helperKernels(t, c.rows, c.failed, c.btf)
			updated, changes := Helpers(reg, ks)
			if got := short(changes); !slices.Equal(got, c.want) {
				t.Fatalf("changes\n got %q\nwant %q", got, c.want)
			}
			for _, ch := range changes {
				if ch.Evidence == "" || len(ch.Kernels) != len(syncKernels) || !strings.Contains(ch.String(), "bpf_probe_me (100)") {
					t.Errorf("change without its evidence: %+v", ch)
				}
			}
			open := len(changes) > 0 && changes[0].Open
			if want := len(changes) > 0 && !open; (len(updated) == 1) != want {
				t.Fatalf("%d entries updated for %d changes", len(updated), len(changes))
			}
			if len(updated) == 0 {
				return
			}
			// Written into the file, the proposal loads, the kernels it came from agree with it,
			// and a second sync has nothing more to propose.
			out, err := yamledit.UpdateHelpers("helpers.yaml", []byte(text), updated)
			if err != nil {
				t.Fatal(err)
			}
			again, err := registry.Parse("helpers.yaml", out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, hv := range verdict.Judge(again, nil, ks) {
				if hv.Verdict == verdict.Contradicted {
					t.Errorf("the synced entry is contradicted: %v\n%s", hv.Problems, out)
				}
			}
			if more, cs := Helpers(again, ks); len(more)+len(cs) > 0 {
				t.Errorf("a second sync proposes %q\n%s", short(cs), out)
			}
			if src := again.Helpers()[0].Sources["matrix"]; !strings.Contains(src, "5 kernels 5.10.262..7.3.4") {
				t.Errorf("sources.matrix %q", src)
			}
		})
	}
}

// TestChangeString: the line people review names the entry, the fact, both values and
// the answers.
func TestChangeString(t *testing.T) {
	reg, err := registry.Parse("helpers.yaml", []byte(entry("  min_kernel: \"5.8\"\n  prog_types: [kprobe, xdp]\n  prog_type_since: {xdp: \"7.0\"}\n")))
	if err != nil {
		t.Fatal(err)
	}
	_, changes := Helpers(reg, helperKernels(t, []string{"kprobe sssss", "xdp rrsss"}, []string{"6.1"}, nil))
	if len(changes) != 1 {
		t.Fatalf("changes %v", changes)
	}
	want := `bpf_probe_me (100) prog_type_since.xdp: "7.0" -> "6.12"; evidence: 5.10 refused; 6.1 failed; 6.12..7.3 offered`
	if got := changes[0].String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

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
	confirmedTable(t, got, ks)
	// What people wrote is kept by the next sync, and so are the attach points recorded, which
	// the probe does not answer yet.
	a.Description, a.Category = "Does A.", "task"
	a.AttachPoints = map[string]registry.AttachPoint{"iter/tcp": {Evidence: "probe: 6.12"}}
	again, changes := Kfuncs(table2(t, got), ks)
	if again[0].Description != "Does A." || again[0].Category != "task" || changes[0].Kind != "unchanged" ||
		again[0].AttachPoints["iter/tcp"].Evidence != "probe: 6.12" {
		t.Errorf("sync lost what people wrote: %+v %v", again[0], changes[0])
	}
}

// confirmedTable writes the kfunc proposal got as kfuncs sync writes it, loads it, and holds the
// kernels ks it came from to confirm it: none may contradict an entry. It returns the table
// loaded and the kernels' verdicts on it.
func confirmedTable(t *testing.T, got []*registry.Kfunc, ks []verdict.Kernel) (*registry.Kfuncs, []verdict.KfuncVerdict) {
	t.Helper()
	file := yamledit.MarshalKfuncs(got)
	table, err := registry.ParseKfuncs("kfuncs.yaml", file)
	if err != nil {
		t.Fatalf("%v\n%s", err, file)
	}
	kvs := verdict.JudgeKfuncs(table, ks)
	for _, kv := range kvs {
		if kv.Verdict == verdict.Contradicted {
			t.Errorf("%s contradicted by the kernels it came from: %v", kv.Name, kv.Problems)
		}
	}
	return table, kvs
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

// TestProposeModuleKfuncs: a module's kfunc gets its module in the written file, and kernels
// whose guest did not load the module say nothing about it (no gap), while one that loaded it
// without the kfunc does.
func TestProposeModuleKfuncs(t *testing.T) {
	withModule := func(k verdict.Kernel, loaded bool, has ...string) verdict.Kernel {
		for _, h := range has {
			k.Facts.Kfuncs = append(k.Facts.Kfuncs, observation.Kfunc{Name: h, Prototype: "int " + h + "(void)", Tagged: true, Module: "nf_conntrack"})
		}
		m := observation.ModuleLoad{Name: "nf_conntrack"}
		if !loaded {
			m.Error = "exec format error"
		}
		k.Facts.Modules = append(k.Facts.Modules, m)
		return k
	}
	tests := []struct {
		name string
		ks   []verdict.Kernel
		gaps string
		last string
	}{
		{"module missing in between", []verdict.Kernel{
			withModule(kernel("6.12", "6.12.118", []string{"bpf_a"}, "bpf_ct_x xdp supported"), true, "bpf_ct_x"),
			kernel("7.0", "7.0.13", []string{"bpf_a"}),
			withModule(kernel("7.1", "7.1.13", []string{"bpf_a"}), false),
			withModule(kernel("7.3", "7.3.4", []string{"bpf_a"}, "bpf_ct_x xdp supported"), true, "bpf_ct_x"),
		}, "", ""},
		{"module loaded without the kfunc", []verdict.Kernel{
			withModule(kernel("6.12", "6.12.118", []string{"bpf_a"}, "bpf_ct_x xdp supported"), true, "bpf_ct_x"),
			withModule(kernel("7.0", "7.0.13", []string{"bpf_a"}), true),
			withModule(kernel("7.3", "7.3.4", []string{"bpf_a"}, "bpf_ct_x xdp supported"), true, "bpf_ct_x"),
		}, "7.0..7.0", ""},
		{"gone once the module loads without it", []verdict.Kernel{
			withModule(kernel("6.12", "6.12.118", []string{"bpf_a"}, "bpf_ct_x xdp supported"), true, "bpf_ct_x"),
			withModule(kernel("7.3", "7.3.4", []string{"bpf_a"}), true),
		}, "", "6.12"},
	}
	for _, tt := range tests {
		got, _ := Kfuncs(nil, tt.ks)
		i := slices.IndexFunc(got, func(k *registry.Kfunc) bool { return k.Name == "bpf_ct_x" })
		if i < 0 {
			t.Fatalf("%s: no proposal for bpf_ct_x: %v", tt.name, got)
		}
		ct := got[i]
		var gaps []string
		for _, g := range ct.Gaps {
			gaps = append(gaps, g.String())
		}
		last := ""
		if ct.LastKernel != (registry.Version{}) {
			last = ct.LastKernel.String()
		}
		if ct.Module != "nf_conntrack" || ct.MinKernel.String() != "6.12" || strings.Join(gaps, ",") != tt.gaps ||
			last != tt.last || ct.ProgTypes.String() != "xdp" {
			t.Errorf("%s: %+v", tt.name, ct)
		}
		if file := string(yamledit.MarshalKfuncs(got)); !strings.Contains(file, "module: ") {
			t.Errorf("%s: no module key in the file:\n%s", tt.name, file)
		}
	}
}
