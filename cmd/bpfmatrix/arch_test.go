package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// archFixture records one arm64 difference on 6.12: bpf_task_from_pid refused to tracing
// programs, which amd64's kernel lets call it.
const archFixture = `compared:
  - {release: "6.12", arch: arm64, boots: 2}
differences:
  - {kind: kfunc, name: bpf_task_from_pid, where: tracing, release: "6.12", arch: arm64,
     outcome: not_for_type, words: "calling kernel function bpf_task_from_pid is not allowed",
     amd64_outcome: supported, amd64_words: "loaded"}
`

// TestArchQuestions: helpers|kfuncs compat, list and info with --arch arm64 apply the recorded
// difference where it applies, answer amd64's answer with a note for a release not compared,
// and refuse an unknown architecture word (exit 2).
func TestArchQuestions(t *testing.T) {
	ad := writeTemp(t, "archdiffs.yaml", archFixture)
	arm := []string{"--arch", "arm64", "--archdiffs", ad}
	with := func(args ...string) []string { return append(args, arm...) }
	tests := []struct {
		args           []string
		code           int
		stdout, stderr string // substrings
		notStdout      string
	}{
		{[]string{"kfuncs", "compat", "bpf_task_from_pid", "tracing", "6.12"}, 0, "compatible: bpf_task_from_pid may be called", "", ""},
		{with("kfuncs", "compat", "bpf_task_from_pid", "tracing", "6.12"), 1, `not compatible: bpf_task_from_pid is not offered at tracing on arm64 6.12: the kernel answers not_for_type ("calling kernel function bpf_task_from_pid is not allowed")`, "", ""},
		{with("kfuncs", "compat", "bpf_task_from_pid", "fentry/vfs_read", "6.12.40"), 1, "not offered at tracing on arm64", "", ""},
		{with("kfuncs", "compat", "bpf_task_from_pid", "tracepoint", "6.12"), 0, "compatible", "", ""},
		{with("kfuncs", "compat", "bpf_task_from_pid", "tracing", "7.3"), 0, "compatible", "the arm64 build of 7.3 was not compared with amd64's (compared: 6.12): the answer is amd64's", ""},
		{with("kfuncs", "compat", "bpf_task_from_pid", "socket_filter", "7.3"), 1, "not compatible", "not compared", ""},
		{with("helpers", "compat", "map_lookup_elem", "xdp", "6.12"), 0, "compatible", "", ""},
		{[]string{"kfuncs", "compat", "bpf_task_from_pid", "tracing", "6.12", "--arch", "arm"}, 2, "", `--arch: unknown architecture "arm"`, ""},
		{[]string{"helpers", "list", "--arch", "x86"}, 2, "", `--arch: unknown architecture "x86"`, ""},
		{[]string{"kfuncs", "info", "bpf_task_from_pid", "--arch", ""}, 2, "", "--arch: empty value", ""},
		{[]string{"kfuncs", "compat", "bpf_task_from_pid", "tracing", "6.12", "--arch", "arm64", "--archdiffs", writeTemp(t, "bad.yaml", "compared: []\n")}, 2, "", "bad.yaml:1: missing required key \"differences\"", ""},
		{[]string{"kfuncs", "list", "--kernel", "6.12", "--prog-type", "tracing"}, 0, "bpf_task_from_pid", "", ""},
		{with("kfuncs", "list", "--kernel", "6.12", "--prog-type", "tracing"), 0, "bpf_task_acquire", "", "bpf_task_from_pid"},
		{with("kfuncs", "list", "--kernel", "7.3", "--prog-type", "tracing"), 0, "bpf_task_from_pid", "not compared", ""},
		{with("kfuncs", "list", "--kernel", "6.12"), 0, "bpf_task_from_pid", "", ""},
		{with("kfuncs", "list", "--prog-type", "tracing"), 0, "bpf_task_from_pid", "give --kernel", ""},
		{with("kfuncs", "info", "bpf_task_from_pid"), 0, "arm64 differences from amd64 (releases compared: 6.12):\n  6.12 at tracing: not_for_type", "", ""},
		{with("helpers", "info", "map_lookup_elem"), 0, "arm64 differences from amd64 (releases compared: 6.12):\n  none recorded", "", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) ||
				tt.notStdout != "" && strings.Contains(stdout, tt.notStdout) {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
		})
	}
}

// TestArchInfoJSON: info --format json --arch arm64 is the entry's document with the key
// arch_differences added, holding the recorded difference (an empty list for none).
func TestArchInfoJSON(t *testing.T) {
	ad := writeTemp(t, "archdiffs.yaml", archFixture)
	for name, want := range map[string]int{"bpf_task_from_pid": 1, "bpf_task_acquire": 0} {
		code, stdout, stderr := run("kfuncs", "info", name, "--format", "json", "--arch", "arm64", "--archdiffs", ad)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var doc struct {
			Name  string                     `json:"name"`
			Diffs *[]registry.ArchDifference `json:"arch_differences"`
		}
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Name != name || doc.Diffs == nil || len(*doc.Diffs) != want {
			t.Fatalf("%s: %s", name, stdout)
		}
		if want == 1 && ((*doc.Diffs)[0].Outcome != observation.NotForType || (*doc.Diffs)[0].AMD64Outcome != observation.Supported) {
			t.Errorf("difference %+v", (*doc.Diffs)[0])
		}
	}
}

// TestArchAMD64Unchanged: without --arch, with --arch amd64 and with an --archdiffs file, amd64's
// answers are byte for byte the same, exit codes included.
func TestArchAMD64Unchanged(t *testing.T) {
	ad := writeTemp(t, "archdiffs.yaml", archFixture)
	questions := [][]string{
		{"kfuncs", "compat", "bpf_task_from_pid", "tracing", "6.12"},
		{"kfuncs", "compat", "bpf_task_from_pid", "socket_filter", "6.12"},
		{"helpers", "compat", "map_lookup_elem", "xdp", "7.3"},
		{"kfuncs", "list", "--kernel", "6.12", "--prog-type", "tracing", "--format", "json"},
		{"helpers", "list", "--kernel", "6.1"},
		{"kfuncs", "info", "bpf_task_from_pid", "--format", "json"},
		{"helpers", "info", "map_lookup_elem"},
	}
	for _, q := range questions {
		code, stdout, stderr := run(q...)
		for _, extra := range [][]string{{"--arch", "amd64"}, {"--arch", "amd64", "--archdiffs", ad}} {
			c, o, e := run(append(q, extra...)...)
			if c != code || o != stdout || e != stderr {
				t.Errorf("%v %v: exit %d, output differs from without the flag (exit %d)\n%s\n%s", q, extra, c, code, o, stderr)
			}
		}
	}
}

// archDocs writes the recorded 6.12 observation as amd64's document into a new directory, and
// one arm64 boot per edit, each in a directory of its own (as two runs' --out write them); edit
// changes the arm64 boot's answer of bpf_task_from_pid at tracing's default attachment.
func archDocs(t *testing.T, boots ...observation.Outcome) []string {
	t.Helper()
	base := readDoc(t, filepath.Join(recordedObservations, "6.12.json.gz"))
	dirs := []string{t.TempDir()}
	writeDoc(t, filepath.Join(dirs[0], "6.12.json"), base)
	for _, o := range boots {
		doc := readDoc(t, filepath.Join(recordedObservations, "6.12.json.gz"))
		doc.Guest.Arch = observation.ArchARM64
		for i, r := range doc.Results {
			if r.Kfunc == "bpf_task_from_pid" && r.Variant == "fentry" {
				doc.Results[i].Outcome, doc.Results[i].Detail = o, "arm64 says "+string(o)
			}
		}
		dir := t.TempDir()
		writeDoc(t, filepath.Join(dir, "6.12-arm64.json"), doc)
		dirs = append(dirs, dir)
	}
	return dirs
}

// TestArchSync: arch sync records a difference only when two or more arm64 boots agree on it;
// one boot is noted and shown unconfirmed, boots that disagree are named, and --write writes a
// file the questions then answer from.
func TestArchSync(t *testing.T) {
	nft, sup := observation.NotForType, observation.Supported
	tests := []struct {
		name     string
		boots    []observation.Outcome
		recorded int
		stdout   []string
	}{
		{"one boot", []observation.Outcome{nft}, 0, []string{"unconfirmed (one boot): bpf_task_from_pid at tracing on arm64 6.12: not_for_type", "a second boot is needed", "compared no release"}},
		{"two boots agree", []observation.Outcome{nft, nft}, 1, []string{"difference: bpf_task_from_pid at tracing on arm64 6.12: not_for_type (\"arm64 says not_for_type\"); amd64: supported", "compared 6.12 (2 boots): 1 differences recorded"}},
		{"two boots disagree", []observation.Outcome{nft, sup}, 0, []string{"unsettled (not recorded): bpf_task_from_pid at tracing on 6.12: the boots answer not_for_type, supported; amd64: supported", "compared 6.12 (2 boots): 0 differences recorded"}},
		{"no difference", []observation.Outcome{sup, sup}, 0, []string{"compared 6.12 (2 boots): 0 differences"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dirs := archDocs(t, tt.boots...)
			file := writeTemp(t, "archdiffs.yaml", "compared: []\ndifferences: []\n")
			code, stdout, stderr := run(append([]string{"arch", "sync", "--arch", "arm64", "--archdiffs", file, "--write"}, dirs...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			written, err := registry.LoadArchDiffs(file)
			if err != nil {
				t.Fatal(err)
			}
			if len(written.Differences) != tt.recorded {
				t.Fatalf("file records %d differences, want %d:\n%s", len(written.Differences), tt.recorded, written.Encode())
			}
			wantCode := exitOK
			if tt.recorded > 0 {
				wantCode = exitNo
			}
			if code, _, _ := run("kfuncs", "compat", "bpf_task_from_pid", "tracing", "6.12", "--arch", "arm64", "--archdiffs", file); code != wantCode {
				t.Errorf("compat from the written file: exit %d, want %d", code, wantCode)
			}
		})
	}
}

// TestArchSyncJSON: --format json says what was compared, recorded and written, with lists
// never null.
func TestArchSyncJSON(t *testing.T) {
	dirs := archDocs(t, observation.NotForType, observation.NotForType)
	file := writeTemp(t, "archdiffs.yaml", "compared: []\ndifferences: []\n")
	code, stdout, stderr := run(append([]string{"arch", "sync", "--arch", "arm64", "--archdiffs", file, "--format", "json"}, dirs...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out struct {
		Compared    []registry.ArchCompared   `json:"compared"`
		Differences []registry.ArchDifference `json:"differences"`
		Unconfirmed []registry.ArchDifference `json:"unconfirmed"`
		Changed     bool                      `json:"changed"`
		Written     string                    `json:"written"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Compared) != 1 || out.Compared[0].Boots != 2 || len(out.Differences) != 1 || out.Unconfirmed == nil || !out.Changed || out.Written != "" {
		t.Errorf("%s", stdout)
	}
	if data, _ := os.ReadFile(file); string(data) != "compared: []\ndifferences: []\n" {
		t.Errorf("the file was written without --write:\n%s", data)
	}
}

// TestArchSyncBadInput: bad input is exit 2 naming what is wrong.
func TestArchSyncBadInput(t *testing.T) {
	empty := t.TempDir()
	notDoc := t.TempDir()
	writeTemp(t, "x", "")
	if err := os.WriteFile(filepath.Join(notDoc, "report.json"), []byte(`{"kernels": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	dirs := archDocs(t, observation.Supported)
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"arch", "sync", dirs[0]}, "--arch: amd64 is what the other architectures are compared with"},
		{[]string{"arch", "sync", "--arch", "sparc", dirs[0]}, `--arch: unknown architecture "sparc"`},
		{[]string{"arch", "sync", "--arch", "arm64"}, "name the directories"},
		{[]string{"arch", "sync", "--arch", "arm64", empty}, "no observation documents"},
		{[]string{"arch", "sync", "--arch", "arm64", notDoc}, "report.json"},
		{[]string{"arch", "sync", "--arch", "arm64", filepath.Join(empty, "missing")}, "missing"},
		{[]string{"arch", "sync", "--arch", "arm64", "--archdiffs", writeTemp(t, "bad.yaml", "compared: []\ndifference: []\n"), dirs[0]}, "bad.yaml:2: unknown key \"difference\""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := run(tt.args...)
			if code != exitBadArgs || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr)
			}
		})
	}
}
