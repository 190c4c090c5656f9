package registry

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// archDiffsFixture compares 6.12 and 7.3 on arm64 and records one difference of each kind.
const archDiffsFixture = `# comment
compared:
  - {release: "6.12", arch: arm64, boots: 2}
  - {release: "7.3", arch: arm64, boots: 3}
differences:
  - kind: kfunc
    name: bpf_arena_alloc_pages
    where: "tracing"
    release: "7.3"
    arch: arm64
    outcome: not_for_type
    words: "calling kernel function bpf_arena_alloc_pages is not allowed"
    amd64_outcome: supported
    amd64_words: "loaded"
  - {kind: helper, name: bpf_get_func_ip, where: "cgroup/connect4", release: "6.12", arch: arm64,
     outcome: supported, words: "loaded", amd64_outcome: not_for_type, amd64_words: "unknown func bpf_get_func_ip#173"}
`

// archDiff is one difference of the fixture's shape with key replaced by value, as a flow
// mapping, for the fault table.
func archDiff(key, value string) string {
	fields := map[string]string{"kind": "kfunc", "name": "bpf_x", "where": "tracing", "release": `"6.12"`, "arch": "arm64",
		"outcome": "not_for_type", "words": `"no"`, "amd64_outcome": "supported", "amd64_words": `"loaded"`}
	var parts []string
	for _, k := range archDiffKeys {
		v := fields[k]
		if k == key {
			if value == "" {
				continue
			}
			v = value
		}
		parts = append(parts, k+": "+v)
	}
	if key == "extra" {
		parts = append(parts, value)
	}
	return "compared:\n  - {release: \"6.12\", arch: arm64, boots: 2}\ndifferences:\n  - {" + strings.Join(parts, ", ") + "}\n"
}

// TestFaultArchDiffs: every fault of an archdiffs file is refused with its file and line.
func TestFaultArchDiffs(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"empty", "# nothing\n", "archdiffs.yaml: empty file"},
		{"a list", "[]\n", "archdiffs.yaml:1: architecture differences: want a mapping, found a list"},
		{"unknown top key", "compared: []\ndifferences: []\nnotes: x\n", "archdiffs.yaml:3: unknown key \"notes\""},
		{"missing differences", "compared: []\n", "archdiffs.yaml:1: missing required key \"differences\""},
		{"duplicate top key", "compared: []\ncompared: []\ndifferences: []\n", "archdiffs.yaml:2: architecture differences: duplicate key \"compared\""},
		{"compared not a list", "compared: {}\ndifferences: []\n", "archdiffs.yaml:1: compared: want a list"},
		{"one boot", "compared:\n  - {release: \"6.12\", arch: arm64, boots: 1}\ndifferences: []\n", "archdiffs.yaml:2: compared: boots: want a whole number from 2"},
		{"boots a string", "compared:\n  - {release: \"6.12\", arch: arm64, boots: \"2\"}\ndifferences: []\n", "archdiffs.yaml:2: compared: boots"},
		{"compared amd64", "compared:\n  - {release: \"6.12\", arch: amd64, boots: 2}\ndifferences: []\n", "archdiffs.yaml:2: compared: arch: amd64's answers"},
		{"unknown arch", "compared:\n  - {release: \"6.12\", arch: arm, boots: 2}\ndifferences: []\n", "archdiffs.yaml:2: compared: arch: unknown architecture \"arm\""},
		{"patch release", "compared:\n  - {release: \"6.12.5\", arch: arm64, boots: 2}\ndifferences: []\n", "write a release series"},
		{"unquoted release", "compared:\n  - {release: 6.12, arch: arm64, boots: 2}\ndifferences: []\n", "write versions as quoted strings"},
		{"compared twice", "compared:\n  - {release: \"6.12\", arch: arm64, boots: 2}\n  - {release: \"6.12\", arch: arm64, boots: 3}\ndifferences: []\n", "archdiffs.yaml:3: duplicate comparison of arm64 6.12 (first at line 2)"},
		{"compared unknown key", "compared:\n  - {release: \"6.12\", arch: arm64, boots: 2, by: me}\ndifferences: []\n", "archdiffs.yaml:2: compared: unknown key \"by\""},
		{"compared missing boots", "compared:\n  - {release: \"6.12\", arch: arm64}\ndifferences: []\n", "archdiffs.yaml:2: compared: missing required key \"boots\""},
		{"difference unknown key", archDiff("extra", "variant: fentry"), "archdiffs.yaml:4: difference: unknown key \"variant\""},
		{"difference missing words", archDiff("words", ""), "archdiffs.yaml:4: difference: missing required key \"words\""},
		{"bad kind", archDiff("kind", "map"), "archdiffs.yaml:4: difference: kind: want helper or kfunc"},
		{"bad name", archDiff("name", `"bpf x"`), "archdiffs.yaml:4: difference: name: want a C identifier"},
		{"bad outcome", archDiff("outcome", "refused"), "archdiffs.yaml:4: difference: outcome: unknown outcome \"refused\""},
		{"same outcomes", archDiff("outcome", "supported"), "archdiffs.yaml:4: difference of bpf_x at tracing: outcome and amd64_outcome are both supported"},
		{"uncompared release", archDiff("release", `"7.3"`), "archdiffs.yaml:4: difference of bpf_x at tracing: arm64 7.3 is not listed under compared (compared for arm64: 6.12)"},
		{"amd64 difference", archDiff("arch", "amd64"), "archdiffs.yaml:4: difference: arch: amd64's answers"},
		{"unknown where", archDiff("where", "nosuchtype"), "archdiffs.yaml:4: difference: where:"},
		{"where not canonical", archDiff("where", "fentry"), "archdiffs.yaml:4: difference: where: \"fentry\": write the attach point as the registry keys it, \"tracing\""},
		{"empty words", archDiff("words", `"  "`), "archdiffs.yaml:4: difference: words is empty"},
		{"duplicate difference", archDiffsFixture + "  - {kind: helper, name: bpf_get_func_ip, where: \"cgroup/connect4\", release: \"6.12\", arch: arm64,\n     outcome: gpl_only, words: \"x\", amd64_outcome: not_for_type, amd64_words: \"y\"}\n",
			"archdiffs.yaml:17: duplicate difference of helper bpf_get_func_ip at cgroup/connect4 on arm64 6.12 (first at line 15)"},
		{"two documents", "compared: []\ndifferences: []\n---\ncompared: []\n", "archdiffs.yaml:3:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseArchDiffs("archdiffs.yaml", []byte(tt.text))
			wantLineError(t, err, tt.want)
		})
	}
}

// TestArchDiffsAt: a question finds the difference recorded at its attach point or up its
// chain, on the same release series and architecture only; other questions find none.
func TestArchDiffsAt(t *testing.T) {
	ad, err := ParseArchDiffs("archdiffs.yaml", []byte(archDiffsFixture))
	if err != nil {
		t.Fatal(err)
	}
	arm, amd := observation.ArchARM64, observation.ArchAMD64
	tests := []struct {
		kind        FunctionKind
		name, where string
		kernel      string
		arch        observation.Arch
		want        bool
		wantOutcome observation.Outcome
	}{
		{KindKfunc, "bpf_arena_alloc_pages", "tracing", "7.3", arm, true, observation.NotForType},
		{KindKfunc, "bpf_arena_alloc_pages", "fentry", "7.3.2", arm, true, observation.NotForType},
		{KindKfunc, "bpf_arena_alloc_pages", "fentry/vfs_read", "7.3", arm, true, observation.NotForType},
		{KindKfunc, "bpf_arena_alloc_pages", "tracing", "7.3", amd, false, ""},
		{KindKfunc, "bpf_arena_alloc_pages", "tracing", "6.12", arm, false, ""},
		{KindKfunc, "bpf_arena_alloc_pages", "xdp", "7.3", arm, false, ""},
		{KindHelper, "bpf_arena_alloc_pages", "tracing", "7.3", arm, false, ""},
		{KindHelper, "bpf_get_func_ip", "cgroup/connect4", "6.12", arm, true, observation.Supported},
		{KindHelper, "bpf_get_func_ip", "cgroup_sock_addr", "6.12", arm, false, ""},
	}
	for _, tt := range tests {
		d, ok, err := ad.At(tt.kind, tt.name, tt.where, MustParseVersion(tt.kernel), tt.arch)
		if err != nil || ok != tt.want || d.Outcome != tt.wantOutcome {
			t.Errorf("At(%s %s %s %s %s) = %v, %v, %v; want %v, %s", tt.kind, tt.name, tt.where, tt.kernel, tt.arch, d.Outcome, ok, err, tt.want, tt.wantOutcome)
		}
	}
	if _, _, err := ad.At(KindKfunc, "bpf_x", "nosuchtype", MustParseVersion("7.3"), arm); err == nil {
		t.Error("At with an unknown program type: no error")
	}
	for v, want := range map[string]bool{"6.12.40": true, "7.3": true, "6.1": false} {
		if _, ok := ad.ComparedAt(MustParseVersion(v), arm); ok != want {
			t.Errorf("ComparedAt(%s, arm64) = %v, want %v", v, ok, want)
		}
	}
	if got := ad.ComparedReleases(arm); got != "6.12, 7.3" {
		t.Errorf("ComparedReleases = %q", got)
	}
}

// TestArchDiffsEncode: what sync writes reads back as the same table, words with quotes,
// colons and control bytes included, and the embedded file loads.
func TestArchDiffsEncode(t *testing.T) {
	ad, err := ParseArchDiffs("archdiffs.yaml", []byte(archDiffsFixture))
	if err != nil {
		t.Fatal(err)
	}
	ad.Differences[0].Words = "R1 type=ptr_<x>: \"quoted\"\x1b # not a comment"
	tables := []*ArchDiffs{NewArchDiffs("a", ad.Compared, ad.Differences), NewArchDiffs("b", nil, nil)}
	for _, want := range tables {
		data := want.Encode()
		got, err := ParseArchDiffs("out.yaml", data)
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		if !equalArchDiffs(got, want) {
			t.Errorf("read back %+v, want %+v\n%s", got, want, data)
		}
		if !bytes.Equal(got.Encode(), data) {
			t.Errorf("encoding is not stable:\n%s", data)
		}
	}
	if _, err := DefaultArchDiffs(); err != nil {
		t.Fatalf("embedded archdiffs.yaml: %v", err)
	}
}

func equalArchDiffs(a, b *ArchDiffs) bool {
	if len(a.Compared) != len(b.Compared) || len(a.Differences) != len(b.Differences) {
		return false
	}
	for i := range a.Compared {
		if a.Compared[i] != b.Compared[i] {
			return false
		}
	}
	for i := range a.Differences {
		if a.Differences[i] != b.Differences[i] {
			return false
		}
	}
	return true
}

// FuzzArchDiffs feeds the archdiffs.yaml loader arbitrary bytes (see fuzzTable): what it accepts
// keeps the loader's promises and writes back as the same table.
func FuzzArchDiffs(f *testing.F) {
	fuzzTable(f, ParseArchDiffs, checkLoadedArchDiffs, []byte(archDiffsFixture), embeddedArchDiffs,
		[]byte(archDiff("where", "cgroup/connect4")), []byte("compared: []\ndifferences: [\n"))
}

// checkLoadedArchDiffs fails t when a table breaks a promise of the loader: every difference of a
// compared release and another architecture, its outcomes known and different, and the table
// written back reads as itself.
func checkLoadedArchDiffs(t *testing.T, ad *ArchDiffs) {
	for _, d := range ad.Differences {
		if _, ok := ad.ComparedAt(d.Release, d.Arch); !ok || d.Arch == observation.ArchAMD64 ||
			!d.Outcome.Valid() || !d.AMD64Outcome.Valid() || d.Outcome == d.AMD64Outcome {
			t.Fatalf("loaded difference %+v", d)
		}
	}
	back, err := ParseArchDiffs("back.yaml", ad.Encode())
	if err != nil || !equalArchDiffs(back, ad) {
		t.Fatalf("written back: %v\n%s", err, ad.Encode())
	}
}
