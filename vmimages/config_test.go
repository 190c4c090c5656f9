package vmimages

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

func TestParseConfig(t *testing.T) {
	src := `# test
kernels:
  - name: "5.10"
    debian: {series: "5.10"}
  - name: 6.10            # unquoted: must stay "6.10", not the number 6.1
    debian:
      series: 6.10
      version: 6.10.3
  - name: mybuild
    path: ../linux/arch/x86/boot/bzImage
  - name: withcfg
    path: {image: /abs/bzImage, config: .config}
`
	cfg, err := ParseConfig([]byte(src), "/repo/kernels.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ name, spec string }{
		{"5.10", "debian series=5.10"},
		{"6.10", "debian series=6.10 version=6.10.3"},
		{"mybuild", "path ../linux/arch/x86/boot/bzImage"},
		{"withcfg", "path /abs/bzImage config=.config"},
	}
	if len(cfg.Entries) != len(want) {
		t.Fatalf("got %d entries, want %d", len(cfg.Entries), len(want))
	}
	for i, w := range want {
		e := cfg.Entries[i]
		if e.Name != w.name || e.Source.Spec() != w.spec {
			t.Errorf("entry %d = %s %q, want %s %q", i, e.Name, e.Source.Spec(), w.name, w.spec)
		}
	}
	if got := cfg.Entries[2].Source.(*PathSource).abs("../linux/x"); got != "/linux/x" {
		t.Errorf("relative path resolved to %q, want it relative to kernels.yaml", got)
	}
	if cfg.Entries[1].Line != 5 {
		t.Errorf("entry line = %d, want 5", cfg.Entries[1].Line)
	}
	if cfg.LockPath() != "/repo/kernels.lock" {
		t.Errorf("LockPath = %q", cfg.LockPath())
	}
}

func TestFaultKernelsFileParse(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "kernels.yaml: empty file"},
		{"not yaml", "kernels: [", "kernels.yaml: yaml:"},
		{"no kernels key", "other: 1\n", `kernels.yaml:1: unknown key "other"`},
		{"kernels not a list", "kernels: {a: 1}\n", `kernels.yaml:1: "kernels" must be a list`},
		{"empty list", "kernels: []\n", `kernels.yaml:1: "kernels" is empty`},
		{"entry not a mapping", "kernels:\n  - 5.10\n", "kernels.yaml:2: expected a mapping"},
		{"missing name", "kernels:\n  - debian: {series: \"5.10\"}\n", "kernels.yaml:2: kernel entry without a name"},
		{"bad name", "kernels:\n  - name: \"a b\"\n    debian: {series: \"5.10\"}\n", `kernels.yaml:2: kernel name "a b"`},
		{"duplicate name", "kernels:\n  - name: x\n    debian: {series: \"5.10\"}\n  - name: x\n    debian: {series: \"6.1\"}\n", `kernels.yaml:4: kernel "x" is listed twice (first at line 2)`},
		{"unknown key", "kernels:\n  - name: x\n    debain: {series: \"5.10\"}\n", `kernels.yaml:3: unknown key "debain" (allowed: name, arch, debian, path)`},
		{"arch unknown word", "kernels:\n  - name: x\n    arch: aarch64\n    debian: {series: \"5.10\"}\n", `kernels.yaml:3: kernel "x": unknown architecture "aarch64"`},
		{"arch unknown in list", "kernels:\n  - name: x\n    arch:\n      - amd64\n      - riscv64\n    debian: {series: \"5.10\"}\n", `kernels.yaml:5: kernel "x": unknown architecture "riscv64"`},
		{"arch duplicate", "kernels:\n  - name: x\n    debian: {series: \"5.10\"}\n    arch: [arm64, amd64,\n      arm64]\n", `kernels.yaml:5: kernel "x": arch arm64 is listed twice`},
		{"arch empty list", "kernels:\n  - name: x\n    debian: {series: \"5.10\"}\n    arch: []\n", `kernels.yaml:4: kernel "x": arch is an empty list`},
		{"arch empty", "kernels:\n  - name: x\n    debian: {series: \"5.10\"}\n    arch:\n", "kernels.yaml:4: arch: expected a value"},
		{"arch mapping", "kernels:\n  - name: x\n    debian: {series: \"5.10\"}\n    arch: {arm64: yes}\n", "kernels.yaml:4: arch: expected a value"},
		{"arch nested list", "kernels:\n  - name: x\n    debian: {series: \"5.10\"}\n    arch: [[arm64]]\n", "kernels.yaml:4: arch: expected a value"},
		{"arch key twice", "kernels:\n  - name: x\n    arch: arm64\n    arch: amd64\n    debian: {series: \"5.10\"}\n", `kernels.yaml:4: key "arch" given twice`},
		{"path entry with two arches", "kernels:\n  - name: x\n    path: /Image\n    arch: [amd64, arm64]\n", `kernels.yaml:4: kernel "x": a path entry is one image`},
		{"duplicate key", "kernels:\n  - name: x\n    name: y\n    debian: {series: \"5.10\"}\n", `kernels.yaml:3: key "name" given twice`},
		{"no source", "kernels:\n  - name: x\n", `kernels.yaml:2: kernel "x" has no source: add one of debian, path`},
		{"two sources", "kernels:\n  - name: x\n    debian: {series: \"5.10\"}\n    path: /b\n", `kernels.yaml:4: kernel "x" has two sources (debian and path)`},
		{"debian not a mapping", "kernels:\n  - name: x\n    debian: 5.10\n", "kernels.yaml:3: expected a mapping of series, version"},
		{"debian missing series", "kernels:\n  - name: x\n    debian: {version: 5.10.1}\n", "kernels.yaml:3: debian: missing series"},
		{"debian bad series", "kernels:\n  - name: x\n    debian: {series: \"6\"}\n", `kernels.yaml:3: debian series "6": expected major.minor`},
		{"debian unknown key", "kernels:\n  - name: x\n    debian:\n      series: \"6.1\"\n      flavour: rt\n", `kernels.yaml:5: unknown key "flavour" (allowed: series, version)`},
		{"debian bad version", "kernels:\n  - name: x\n    debian: {series: \"6.1\", version: latest}\n", `kernels.yaml:3: debian version "latest"`},
		{"debian version outside series", "kernels:\n  - name: x\n    debian: {series: \"6.1\", version: \"6.12.3\"}\n", `kernels.yaml:3: debian version "6.12.3" is not in series "6.1"`},
		{"debian empty series", "kernels:\n  - name: x\n    debian: {series: }\n", "kernels.yaml:3: series: expected a value"},
		{"path empty", "kernels:\n  - name: x\n    path: \"\"\n", "kernels.yaml:3: path is empty"},
		{"path mapping without image", "kernels:\n  - name: x\n    path: {config: .config}\n", "kernels.yaml:3: path: missing image"},
		{"path list", "kernels:\n  - name: x\n    path: [a, b]\n", "kernels.yaml:3: path: expected a value"},
		// A second document used to be ignored, dropping every kernel after the "---" line.
		{"two documents", "kernels:\n  - name: x\n    debian: {series: \"5.10\"}\n---\nkernels:\n  - name: y\n    debian: {series: \"6.1\"}\n", "kernels.yaml:4: a second YAML document starts here"},
		{"empty second document", "kernels:\n  - name: x\n    debian: {series: \"5.10\"}\n\n---\n", "kernels.yaml:5: a second YAML document"},
		{"bad second document", "kernels:\n  - name: x\n    debian: {series: \"5.10\"}\n---\nfoo: [\n", "kernels.yaml: yaml: line 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.src), "kernels.yaml")
			testenv.WantErr(t, err, tt.want)
		})
	}
}

// TestParseConfigDocumentMarkers checks that the explicit start and end markers of a single
// document are still accepted.
func TestParseConfigDocumentMarkers(t *testing.T) {
	cfg, err := ParseConfig([]byte("# kernels\n---\nkernels:\n  - name: x\n    debian: {series: \"5.10\"}\n...\n"), "kernels.yaml")
	if err != nil || len(cfg.Entries) != 1 {
		t.Fatalf("config = %+v, %v", cfg, err)
	}
}

// TestParseConfigArch checks the arch key's forms: absent (amd64), one word, a flow list and a
// block list, in the order written.
func TestParseConfigArch(t *testing.T) {
	src := `kernels:
  - name: a
    debian: {series: "5.10"}
  - name: b
    arch: arm64
    debian: {series: "6.12"}
  - name: c
    debian: {series: "7.3"}
    arch: [arm64, amd64]
  - name: d
    arch:
      - amd64
      - arm64
    debian: {series: "7.2"}
  - name: e
    arch: arm64
    path: ./Image
`
	cfg, err := ParseConfig([]byte(src), "kernels.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "amd64", "b": "arm64", "c": "arm64 amd64", "d": "amd64 arm64", "e": "arm64"}
	for _, e := range cfg.Entries {
		var got []string
		for _, a := range e.Arches {
			got = append(got, string(a))
		}
		if strings.Join(got, " ") != want[e.Name] {
			t.Errorf("kernel %s: arches %v, want %s", e.Name, got, want[e.Name])
		}
	}
}

// TestSelectArch checks which entries an architecture selects, and the error for a named
// kernel without a build of it, which names the kernels file's line of its arch key (or of
// the entry when the key is absent).
func TestSelectArch(t *testing.T) {
	src := "kernels:\n  - name: \"5.10\"\n    debian: {series: \"5.10\"}\n  - name: \"6.12\"\n    debian: {series: \"6.12\"}\n    arch: [amd64, arm64]\n" +
		"  - name: \"7.3\"\n    arch: [amd64, arm64]\n    debian: {series: \"7.3\"}\n  - name: mine\n    arch: arm64\n    path: ./Image\n"
	cfg, err := ParseConfig([]byte(src), "kernels.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arch    observation.Arch
		names   []string
		want    string
		wantErr string
	}{
		{"", nil, "5.10,6.12,7.3", ""},
		{observation.ArchAMD64, []string{"7.3,5.10"}, "5.10,7.3", ""},
		{observation.ArchARM64, nil, "6.12,7.3,mine", ""},
		{observation.ArchARM64, []string{"7.3", "6.12"}, "6.12,7.3", ""},
		{observation.ArchARM64, []string{"5.10", "7.3"}, "", "kernel 5.10 has no arm64 build in kernels.yaml:2 (arch: [amd64])"},
		{observation.ArchAMD64, []string{"mine"}, "", "kernel mine has no amd64 build in kernels.yaml:11 (arch: [arm64])"},
		{observation.ArchARM64, []string{"4.19"}, "", `unknown kernel "4.19"`},
	}
	for _, tt := range tests {
		got, err := cfg.SelectArch(tt.arch, tt.names)
		if tt.wantErr != "" {
			testenv.WantErr(t, err, tt.wantErr)
			continue
		}
		if err != nil {
			t.Errorf("SelectArch(%s, %v): %v", tt.arch, tt.names, err)
			continue
		}
		var names []string
		for _, e := range got {
			names = append(names, e.Name)
		}
		if strings.Join(names, ",") != tt.want {
			t.Errorf("SelectArch(%s, %v) = %v, want %s", tt.arch, tt.names, names, tt.want)
		}
	}
	only, err := ParseConfig([]byte("kernels:\n  - name: x\n    debian: {series: \"5.10\"}\n"), "k.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = only.SelectArch(observation.ArchARM64, nil)
	testenv.WantErr(t, err, "k.yaml lists no kernel with an arm64 build")
}

func TestSelect(t *testing.T) {
	cfg, err := ParseConfig([]byte("kernels:\n  - {name: \"5.10\", debian: {series: \"5.10\"}}\n  - {name: \"6.1\", debian: {series: \"6.1\"}}\n  - {name: \"7.3\", debian: {series: \"7.3\"}}\n"), "k.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		names   []string
		want    string
		wantErr string
	}{
		{nil, "5.10,6.1,7.3", ""},
		{[]string{"7.3", "5.10"}, "5.10,7.3", ""}, // file order
		{[]string{"5.10,7.3"}, "5.10,7.3", ""},
		{[]string{"7.3", "7.3"}, "7.3", ""},
		{[]string{"6.12"}, "", `unknown kernel "6.12" (k.yaml lists: 5.10, 6.1, 7.3)`},
		{[]string{"5.10", "4.19", "9"}, "", `unknown kernel "4.19", "9"`},
		{[]string{","}, "", "no kernel names given"},
	}
	for _, tt := range tests {
		got, err := cfg.Select(tt.names)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Select(%q) error = %v, want %q", tt.names, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Select(%q): %v", tt.names, err)
			continue
		}
		var names []string
		for _, e := range got {
			names = append(names, e.Name)
		}
		if strings.Join(names, ",") != tt.want {
			t.Errorf("Select(%q) = %v, want %s", tt.names, names, tt.want)
		}
	}
}

// TestRepoKernelsYAML keeps the kernels.yaml at the repository root loadable and complete.
func TestRepoKernelsYAML(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("..", "kernels.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := "5.10 6.1 6.12 6.16 6.17 6.18 6.19 7.0 7.1 7.2 7.3"
	if got := strings.Join(cfg.Names(), " "); got != want {
		t.Errorf("kernels.yaml lists %s, want %s", got, want)
	}
	for _, e := range cfg.Entries {
		if d, ok := e.Source.(*DebianSource); !ok || d.Series != e.Name {
			t.Errorf("%s:%d: kernel %s should be the Debian series of the same name", e.File, e.Line, e.Name)
		}
	}
	if _, err := os.Stat(filepath.Join("..", "kernels.lock")); err == nil {
		lock, err := LoadLock(filepath.Join("..", "kernels.lock"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range cfg.Entries {
			for _, a := range e.Arches {
				le := lock.FindArch(e.Name, a)
				if le == nil || le.Source != e.Source.Spec() {
					t.Errorf("kernels.lock does not pin %s (%s) for %s: run bpfmatrix kernels fetch --arch %s", e.Name, e.Source.Spec(), a, a)
				}
			}
		}
	}
	// The contract of the arm64 matrix: at least the LTS and the newest series have arm64 builds.
	arm, err := cfg.SelectArch(observation.ArchARM64, nil)
	if err != nil {
		t.Fatal(err)
	}
	var armNames []string
	for _, e := range arm {
		armNames = append(armNames, e.Name)
	}
	if got := " " + strings.Join(armNames, " ") + " "; !strings.Contains(got, " 6.12 ") || !strings.Contains(got, " 7.3 ") {
		t.Errorf("the arm64 set is %v, want it to hold 6.12 and 7.3", armNames)
	}
}

// TestBuiltinKernelsFile checks that the built-in kernels file is the repository's pair and that
// every kernel in it is pinned: an installed bpfmatrix has no way to write a missing pin, so an
// unpinned kernel would be resolved (and downloaded) anew on every run.
func TestBuiltinKernelsFile(t *testing.T) {
	cfg, err := LoadConfig(BuiltinKernelsFile)
	if err != nil {
		t.Fatal(err)
	}
	disk, err := LoadConfig(filepath.Join("..", "kernels.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(cfg.Names(), ","), strings.Join(disk.Names(), ","); got != want {
		t.Errorf("built-in kernels %s, kernels.yaml lists %s", got, want)
	}
	if !cfg.Builtin() || disk.Builtin() {
		t.Errorf("Builtin() = %v for the built-in file, %v for kernels.yaml", cfg.Builtin(), disk.Builtin())
	}
	if cfg.LockPath() != BuiltinLockFile {
		t.Fatalf("LockPath() = %q, want %q", cfg.LockPath(), BuiltinLockFile)
	}
	lock, err := LoadLock(cfg.LockPath())
	if err != nil {
		t.Fatal(err)
	}
	diskLock, err := LoadLock(filepath.Join("..", "kernels.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if string(lock.Marshal()) != string(diskLock.Marshal()) {
		t.Error("the built-in kernels.lock differs from the repository's")
	}
	for _, e := range cfg.Entries {
		for _, a := range e.Arches {
			if le := lock.FindArch(e.Name, a); le == nil || le.Source != e.Source.Spec() {
				t.Errorf("kernel %s (%s) is not pinned in the built-in kernels.lock", e.Name, a)
			}
		}
	}
}

func TestDefaultKernelsFile(t *testing.T) {
	t.Chdir(t.TempDir())
	if got := DefaultKernelsFile(); got != BuiltinKernelsFile {
		t.Errorf("without kernels.yaml: %q, want %q", got, BuiltinKernelsFile)
	}
	testenv.WriteFile(t, "kernels.yaml", []byte("kernels: []\n"))
	if got := DefaultKernelsFile(); got != "kernels.yaml" {
		t.Errorf("with kernels.yaml: %q, want kernels.yaml", got)
	}
}
