package proposal

import (
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// archDoc is a small document of one kernel: two variants of tracing and one of xdp, and
// the answers given as "function variant outcome" (a function starting bpf_ is a kfunc, else
// a helper's registry name).
func archDoc(t *testing.T, arch observation.Arch, version string, answers ...string) *observation.Document {
	t.Helper()
	d := &observation.Document{
		Facts: observation.Facts{Kernel: observation.KernelInfo{Release: version + "-test", Version: version},
			ProgTypes: []observation.ProgTypeInfo{
				{Name: "tracing", Present: true, Variants: []observation.VariantInfo{
					{Name: "fentry", Section: "fentry", Usable: true}, {Name: "fexit", Section: "fexit", Usable: true}}},
				{Name: "xdp", Present: true, Variants: []observation.VariantInfo{{Name: "xdp", Section: "xdp", Usable: true}}},
			}},
		Guest: &observation.Guest{Status: observation.StatusOK},
	}
	if arch != observation.ArchAMD64 {
		d.Guest.Arch = arch
	}
	for _, a := range answers {
		f := strings.Fields(a)
		r := observation.Result{Variant: f[1], ProgType: "tracing", Outcome: observation.Outcome(f[2]), Detail: string(arch) + " says " + f[2]}
		if f[1] == "xdp" {
			r.ProgType = "xdp"
		}
		if strings.HasPrefix(f[0], "bpf_") {
			r.Kfunc = f[0]
		} else {
			r.Helper, r.HelperID = f[0], 1
		}
		d.Results = append(d.Results, r)
	}
	return d
}

// TestCompareArch: a difference is recorded only when two or more boots of the release agree on
// it; one boot leaves the release uncompared with a note, boots that disagree are named, answers
// that are no fact are not compared, and the current table's other releases are kept.
func TestCompareArch(t *testing.T) {
	arm, amd := observation.ArchARM64, observation.ArchAMD64
	base := []string{"bpf_arena_alloc_pages fentry supported", "map_lookup_elem xdp supported", "get_func_ip fexit not_for_type", "bpf_obj_new fentry inconclusive"}
	diff := []string{"bpf_arena_alloc_pages fentry not_for_type", "map_lookup_elem xdp supported", "get_func_ip fexit not_for_type", "bpf_obj_new fentry supported"}
	other := []string{"bpf_arena_alloc_pages fentry supported", "map_lookup_elem xdp supported", "get_func_ip fexit not_for_type", "bpf_obj_new fentry supported"}
	current, err := registry.ParseArchDiffs("archdiffs.yaml", []byte(`compared:
  - {release: "6.12", arch: arm64, boots: 2}
  - {release: "7.3", arch: arm64, boots: 2}
differences:
  - {kind: helper, name: bpf_old, where: xdp, release: "6.12", arch: arm64, outcome: not_for_type, words: "a", amd64_outcome: supported, amd64_words: "b"}
  - {kind: helper, name: bpf_stale, where: xdp, release: "7.3", arch: arm64, outcome: not_for_type, words: "a", amd64_outcome: supported, amd64_words: "b"}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                string
		boots               [][]string
		wantCompared        []string // release/boots of the table
		wantDiffs           []string // name@where@release of the table
		unconfirmed, unsett int
		wantNote            string
	}{
		{"one boot", [][]string{diff}, []string{"6.12/2", "7.3/2"}, []string{"bpf_old@xdp@6.12", "bpf_stale@xdp@7.3"}, 1, 0, "7.3: one arm64 boot (b0.json): a second boot is needed"},
		{"two boots agree", [][]string{diff, diff}, []string{"6.12/2", "7.3/2"}, []string{"bpf_old@xdp@6.12", "bpf_arena_alloc_pages@tracing@7.3"}, 0, 0, ""},
		{"three boots agree", [][]string{diff, diff, diff}, []string{"6.12/2", "7.3/3"}, []string{"bpf_old@xdp@6.12", "bpf_arena_alloc_pages@tracing@7.3"}, 0, 0, ""},
		{"two boots disagree", [][]string{diff, other}, []string{"6.12/2", "7.3/2"}, []string{"bpf_old@xdp@6.12"}, 0, 1, ""},
		{"no difference", [][]string{base, base}, []string{"6.12/2", "7.3/2"}, []string{"bpf_old@xdp@6.12"}, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := []ArchDocument{{Path: "amd.json", Doc: archDoc(t, amd, "7.3.1", base...)}}
			for i, b := range tt.boots {
				docs = append(docs, ArchDocument{Path: "b" + string(rune('0'+i)) + ".json", Doc: archDoc(t, arm, "7.3.2", b...)})
			}
			p, err := CompareArch(current, arm, docs)
			if err != nil {
				t.Fatal(err)
			}
			var compared, diffs []string
			for _, c := range p.Table.Compared {
				compared = append(compared, c.Release.String()+"/"+string(rune('0'+c.Boots)))
			}
			for _, d := range p.Table.Differences {
				diffs = append(diffs, d.Name+"@"+d.Where+"@"+d.Release.String())
			}
			if !slices.Equal(compared, tt.wantCompared) || !slices.Equal(diffs, tt.wantDiffs) {
				t.Errorf("compared %v, differences %v; want %v, %v", compared, diffs, tt.wantCompared, tt.wantDiffs)
			}
			if len(p.Unconfirmed) != tt.unconfirmed || len(p.Unsettled) != tt.unsett {
				t.Errorf("unconfirmed %v, unsettled %v; want %d, %d", p.Unconfirmed, p.Unsettled, tt.unconfirmed, tt.unsett)
			}
			if tt.wantNote != "" && !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, tt.wantNote) }) {
				t.Errorf("notes %q lack %q", p.Notes, tt.wantNote)
			}
			for _, d := range p.Table.Differences {
				if d.Name == "bpf_arena_alloc_pages" && (d.Words != "arm64 says not_for_type" || d.AMD64Words != "amd64 says supported" || d.AMD64Outcome != observation.Supported) {
					t.Errorf("difference %+v: want both kernels' words and amd64's outcome", d)
				}
			}
			// What is proposed must be a file the loader takes.
			if _, err := registry.ParseArchDiffs("proposed.yaml", p.Table.Encode()); err != nil {
				t.Errorf("proposed table does not load: %v", err)
			}
		})
	}
}

// TestCompareArchRefusals: amd64 compared with itself and a document without a kernel version
// are errors; a release without an amd64 document is noted, not compared.
func TestCompareArchRefusals(t *testing.T) {
	arm := observation.ArchARM64
	doc := archDoc(t, arm, "7.3", "bpf_x fentry supported")
	if _, err := CompareArch(nil, observation.ArchAMD64, nil); err == nil {
		t.Error("amd64 against amd64: no error")
	}
	bad := archDoc(t, arm, "", "bpf_x fentry supported")
	if _, err := CompareArch(nil, arm, []ArchDocument{{Path: "bad.json", Doc: bad}}); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Errorf("document without a version: %v", err)
	}
	p, err := CompareArch(nil, arm, []ArchDocument{{Path: "a.json", Doc: doc}, {Path: "b.json", Doc: doc}})
	if err != nil || len(p.Table.Compared) != 0 || len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "no amd64 document") {
		t.Errorf("no amd64 document: %v, %+v", err, p)
	}
}

// TestCompareArchVariantNotes: a variant that loads on amd64 and on no arm64 boot is named in
// a note with the kernel's reason; one that fails on a single boot is not.
func TestCompareArchVariantNotes(t *testing.T) {
	arm := observation.ArchARM64
	amd := archDoc(t, observation.ArchAMD64, "7.3", "bpf_x fexit supported")
	refused := func(doc *observation.Document) *observation.Document {
		doc.ProgTypes[0].Variants[1].Usable, doc.ProgTypes[0].Variants[1].Reason = false, "attach type unsupported"
		return doc
	}
	tests := []struct {
		name  string
		boots []*observation.Document
		want  bool
	}{
		{"every boot", []*observation.Document{refused(archDoc(t, arm, "7.3", "bpf_x fexit inconclusive")), refused(archDoc(t, arm, "7.3", "bpf_x fexit inconclusive"))}, true},
		{"one boot of two", []*observation.Document{refused(archDoc(t, arm, "7.3", "bpf_x fexit inconclusive")), archDoc(t, arm, "7.3", "bpf_x fexit supported")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := []ArchDocument{{Path: "amd.json", Doc: amd}}
			for _, b := range tt.boots {
				docs = append(docs, ArchDocument{Path: "b.json", Doc: b})
			}
			p, err := CompareArch(nil, arm, docs)
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Contains(p.Notes, "7.3: tracing/fexit loads on amd64 but not on arm64 (attach type unsupported): its answers are not compared")
			if got != tt.want || len(p.Table.Differences) != 0 {
				t.Errorf("notes %q, differences %v; want the note: %v", p.Notes, p.Table.Differences, tt.want)
			}
		})
	}
}

// TestCompareArchAbsentKfunc: a kfunc amd64's kernel answers for and every arm64 boot's kernel
// lists as absent (asked nothing) differs as unknown_id, and the other way round; one a boot
// merely lacks an answer for (bpf_y) is not compared.
func TestCompareArchAbsentKfunc(t *testing.T) {
	arm := observation.ArchARM64
	amd := archDoc(t, observation.ArchAMD64, "7.3", "bpf_x fentry supported", "bpf_y fentry supported")
	amd.KfuncsAbsent = []string{"bpf_z"}
	boot := func() *observation.Document {
		d := archDoc(t, arm, "7.3", "bpf_z fentry supported")
		d.KfuncsAbsent = []string{"bpf_x"}
		return d
	}
	p, err := CompareArch(nil, arm, []ArchDocument{{Path: "a", Doc: amd}, {Path: "b1", Doc: boot()}, {Path: "b2", Doc: boot()}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Table.Differences) != 2 {
		t.Fatalf("differences %+v", p.Table.Differences)
	}
	x, z := p.Table.Differences[0], p.Table.Differences[1]
	if x.Name != "bpf_x" || x.Outcome != observation.UnknownID || x.Words != absentWords || x.AMD64Outcome != observation.Supported {
		t.Errorf("difference %+v", x)
	}
	if z.Name != "bpf_z" || z.Outcome != observation.Supported || z.AMD64Outcome != observation.UnknownID || z.AMD64Words != absentWords {
		t.Errorf("difference %+v", z)
	}
}
