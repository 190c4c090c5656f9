package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/proposal"
)

// TestSyncFlags: helpers sync and kfuncs sync take the same flags and answer alike: --help
// prints usage on stdout (exit 0), a bad --format is refused while parsing (exit 2), and
// --format json writes the same document, from the recorded observations.
func TestSyncFlags(t *testing.T) {
	for _, group := range []string{"helpers", "kfuncs"} {
		for _, tc := range []struct {
			name   string
			args   []string
			code   int
			stdout string
			stderr string
		}{
			{"help", []string{"--help"}, exitOK, "usage: bpfmatrix " + group + " sync", ""},
			{"-h", []string{"-h"}, exitOK, "--format", ""},
			{"bad format", []string{"--in", recordedObservations, "--format", "xml"}, exitBadArgs, "", "unknown format \"xml\""},
			{"bad format before anything is read", []string{"--in", "/nonexistent", "--format", "yaml"}, exitBadArgs, "", "unknown format"},
			{"an extra argument", []string{"--in", recordedObservations, "xdp"}, exitBadArgs, "", "want 0 argument(s)"},
			// --in reads saved observations, but its guest flags are checked as verify --in's are.
			{"a guest flag out of bounds", []string{"--in", recordedObservations, "--parallel", "9999999999"}, exitBadArgs, "", "--parallel 9999999999: must be 1 to 64"},
		} {
			t.Run(group+" "+tc.name, func(t *testing.T) {
				code, stdout, stderr := run(append([]string{group, "sync"}, tc.args...)...)
				if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
					t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
				}
				if strings.Contains(stderr, "sync: sync:") {
					t.Errorf("doubled prefix: %s", stderr)
				}
			})
		}
		t.Run(group+" json", func(t *testing.T) {
			code, stdout, stderr := run(group, "sync", "--in", recordedObservations, "--format", "json")
			var doc map[string]json.RawMessage
			if err := json.Unmarshal([]byte(stdout), &doc); code != exitOK || err != nil {
				t.Fatalf("exit %d, %v\n%s%s", code, err, stdout, stderr)
			}
			var kernels []verifyKernel
			if err := json.Unmarshal(doc["kernels"], &kernels); err != nil || len(kernels) != 11 {
				t.Errorf("kernels %s (%v)", doc["kernels"], err)
			}
			for _, key := range []string{"registry", "changes"} {
				if _, ok := doc[key]; !ok {
					t.Errorf("no %q in %s", key, stdout)
				}
			}
		})
	}
}

// kfuncsSyncFile is a kfunc file with a comment, people's words and a release the recorded
// kernels contradict (they have bpf_task_acquire from 6.12 on).
const kfuncsSyncFile = `# our kfuncs

# the one we use
- name: bpf_task_acquire # by hand
  prototype: "struct task_struct *bpf_task_acquire(struct task_struct *p)"
  min_kernel: "7.0"
  prog_types: [tracing]
  flags: [trusted_args]
  category: task
  description: "Takes a task."
`

// TestKfuncsSyncWriteInPlace: kfuncs sync --write edits the file in place: the comments and
// the description people wrote stay, the changed entry gets the kernels' facts, the kfuncs the
// file lacks are added, and the JSON output lists the changes with their evidence.
func TestKfuncsSyncWriteInPlace(t *testing.T) {
	file := writeTemp(t, "kfuncs.yaml", kfuncsSyncFile)
	code, stdout, stderr := run("kfuncs", "sync", "--in", recordedObservations, "--kfuncs", file, "--write", "--format", "json")
	var doc syncOutput
	if err := json.Unmarshal([]byte(stdout), &doc); code != exitOK || err != nil {
		t.Fatalf("exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	if doc.Written != file {
		t.Errorf("written %q, want %q", doc.Written, file)
	}
	var minKernel bool
	for _, c := range doc.Changes {
		if c.Name == "bpf_task_acquire" && c.Key == "min_kernel" {
			minKernel = c.Old == "7.0" && c.New == "6.12" && strings.Contains(c.Evidence, "6.12") && len(c.Kernels) == 11
		}
	}
	if !minKernel {
		t.Errorf("no min_kernel change 7.0 -> 6.12 with evidence for bpf_task_acquire in %+v", doc.Changes)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	for _, want := range []string{"# our kfuncs\n\n# the one we use\n- name: bpf_task_acquire\n", "  min_kernel: \"6.12\"\n", "  description: \"Takes a task.\"\n", "- name: bpf_task_release\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("written file lacks %q:\n%.1500s", want, got)
		}
	}
	code, stdout, stderr = run("kfuncs", "sync", "--in", recordedObservations, "--kfuncs", file)
	if code != exitOK || !strings.Contains(stdout, " 0 added, 0 changed,") {
		t.Errorf("second sync: exit %d\n%s%s", code, stdout, stderr)
	}
}

// syncRegistry is a one-entry registry for the sync tests; the kernels below offer its helper
// to xdp from 6.12 on, which its prog_type_since contradicts.
const syncRegistry = `# a registry of the sync tests
- id: 7
  name: probe_me
  signature: {return: long, args: []}
  min_kernel: "5.8"   # a real release, older than any tested kernel
  prog_types: [kprobe, xdp]
  prog_type_since:
    xdp: "7.0"
  gpl_only: false
  category: trace
  description: A helper of the tests.
  sources:
    min_kernel: a test
`

// syncObservations writes one observation document per kernel into a new directory: each row
// is "name version status kprobe-outcome xdp-outcome" for helper 7.
func syncObservations(t *testing.T, rows ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, row := range rows {
		f := strings.Fields(row)
		doc := &observation.Document{
			Facts: observation.Facts{Kernel: observation.KernelInfo{Release: f[1] + "-cloud-amd64", Version: f[1]}},
			Guest: &observation.Guest{Status: f[2], Image: observation.Image{Version: f[1]}},
		}
		if f[2] != observation.StatusOK {
			doc.Guest.Error = "guest crashed"
		}
		for i, pt := range []string{"kprobe", "xdp"} {
			doc.ProgTypes = append(doc.ProgTypes, observation.ProgTypeInfo{Name: pt, Present: true, Variants: []observation.VariantInfo{{Name: pt, Usable: true}}})
			doc.Results = append(doc.Results, observation.Result{HelperID: 7, Helper: "probe_me", ProgType: pt, Variant: pt,
				Outcome: observation.Outcome(f[3+i]), Detail: "the verifier's line"})
		}
		writeDoc(t, filepath.Join(dir, f[0]+".json"), doc)
	}
	return dir
}

// writeDoc writes doc to path as an agent writes its observations.
func writeDoc(t *testing.T, path string, doc *observation.Document) {
	t.Helper()
	data, err := observation.Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, path, data)
}

func writeTemp(t *testing.T, name, text string) string {
	t.Helper()
	p := testenv.WriteFile(t, filepath.Join(t.TempDir(), name), []byte(text))
	return p
}

func TestHelpersSync(t *testing.T) {
	obs := syncObservations(t,
		"5.10 5.10.262 ok supported not_for_type",
		"6.1 6.1.192 ok supported not_for_type",
		"6.12 6.12.118 ok supported supported",
		"7.3 7.3.4 ok supported supported")
	// A failed kernel's answers are no evidence: this one would contradict the proposal.
	withFailed := syncObservations(t,
		"5.10 5.10.262 ok supported not_for_type",
		"6.1 6.1.192 failed supported supported",
		"6.12 6.12.118 ok supported supported")
	reg := writeTemp(t, "helpers.yaml", syncRegistry)
	edn := writeTemp(t, "guide.edn", `{:probe-me {:id 7 :signature {:return :long :args []} :min-kernel "5.8" :prog-types #{:xdp} :category :trace :description "A."}}`)
	line := `bpf_probe_me (7) prog_type_since.xdp: "7.0" -> "6.12"; evidence: 5.10..6.1 refused; 6.12..7.3 offered`
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"a contradicted release", []string{"--in", obs, "--registry", reg}, exitOK, line + "\n1 helpers against 4 kernels (0 failed): 1 changes to 1 helpers\n", ""},
		{"a failed kernel says nothing", []string{"--in", withFailed, "--registry", reg}, exitOK,
			`bpf_probe_me (7) prog_type_since.xdp: "7.0" -> "6.12"; evidence: 5.10 refused; 6.1 failed; 6.12 offered` + "\n1 helpers against 3 kernels (1 failed): 1 changes to 1 helpers\n", ""},
		{"--in with --kernels", []string{"--in", obs, "--kernels", "6.12", "--registry", reg}, exitBadArgs, "", "--kernels does not apply"},
		{"no observations", []string{"--in", t.TempDir(), "--registry", reg}, exitBadArgs, "", "no kernel files"},
		{"an unknown format", []string{"--in", obs, "--registry", reg, "--format", "xml"}, exitBadArgs, "", "unknown format"},
		{"--write to another library's table", []string{"--in", obs, "--registry", edn, "--write"}, exitBadArgs, "", "--write edits our YAML registry"},
		{"an extra argument", []string{"--in", obs, "--registry", reg, "xdp"}, exitBadArgs, "", "want 0 argument(s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(append([]string{"helpers", "sync"}, tc.args...)...)
			if code != tc.code || (tc.code == exitOK && stdout != tc.stdout) || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		code, stdout, stderr := run("helpers", "sync", "--in", obs, "--registry", reg, "--format", "json")
		var doc struct {
			Kernels []verifyKernel    `json:"kernels"`
			Changes []proposal.Change `json:"changes"`
			Written string            `json:"written"`
		}
		if err := json.Unmarshal([]byte(stdout), &doc); code != exitOK || err != nil {
			t.Fatalf("exit %d, %v\n%s%s", code, err, stdout, stderr)
		}
		if len(doc.Kernels) != 4 || len(doc.Changes) != 1 || doc.Written != "" {
			t.Fatalf("%+v", doc)
		}
		c := doc.Changes[0]
		if c.Key != "prog_type_since" || c.ProgType != "xdp" || c.Old != "7.0" || c.New != "6.12" || len(c.Kernels) != 4 ||
			c.Kernels[2].Kernel != "6.12" || c.Kernels[2].State != "offered" || c.Kernels[1].Detail == "" {
			t.Errorf("change %+v", c)
		}
	})

	t.Run("write", func(t *testing.T) {
		file := writeTemp(t, "helpers.yaml", syncRegistry)
		code, stdout, stderr := run("helpers", "sync", "--in", obs, "--registry", file, "--write")
		if code != exitOK || !strings.Contains(stdout, "wrote "+file) {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// The one value changes, a matrix source says why, and every other byte stays.
		want := strings.Replace(syncRegistry, `    xdp: "7.0"`, `    xdp: "6.12"`, 1)
		want = strings.Replace(want, "  sources:\n", "  sources:\n    matrix: \"bpfmatrix helpers sync from the observations of 4 kernels 5.10.262..7.3.4: prog_type_since (xdp) set from the kernels (a release is the tested kernel's series that shows it; the release itself lies between that kernel and the neighbouring tested one)\"\n", 1)
		if string(got) != want {
			t.Errorf("wrote:\n%s\nwant:\n%s", got, want)
		}
		code, stdout, _ = run("helpers", "sync", "--in", obs, "--registry", file, "--write")
		if code != exitOK || stdout != "1 helpers against 4 kernels (0 failed): 0 changes to 0 helpers\n" {
			t.Errorf("second sync: exit %d\n%s", code, stdout)
		}
	})
}

// TestHelpersSyncRecorded: over the recorded observations of the 11 kernels, the committed
// registry needs no change (verify finds nothing contradicted, and sync must agree), and an
// edit that drops measured facts is proposed back, with evidence, and written back in place.
func TestHelpersSyncRecorded(t *testing.T) {
	real := filepath.Join("..", "..", "registry", "helpers.yaml")
	code, stdout, stderr := run("helpers", "sync", "--in", recorded, "--registry", real, "--format", "json")
	var doc syncOutput
	if err := json.Unmarshal([]byte(stdout), &doc); code != exitOK || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, stderr)
	}
	t.Logf("helpers sync proposes %d change(s) to the committed registry", len(doc.Changes))
	if len(doc.Kernels) != 11 || len(doc.Changes) != 0 {
		for _, c := range doc.Changes {
			t.Error(c)
		}
		t.Fatalf("%d kernels, %d changes", len(doc.Kernels), len(doc.Changes))
	}

	edited := registryWith(t, func(s string) string {
		s = strings.Replace(s, "  prog_type_until:\n    lwt_seg6local: \"7.1\"\n  prog_type_gaps:\n    lwt_seg6local: [\"6.1..6.12\"]\n", "", 1)
		return strings.Replace(s, "    socket_filter: \"6.12\"\n    sched_cls: \"6.12\"\n", "    socket_filter: \"6.1\"\n    sched_cls: \"6.12\"\n", 1)
	})
	code, stdout, stderr = run("helpers", "sync", "--in", recorded, "--registry", edited, "--write")
	want := []string{
		`bpf_get_current_pid_tgid (14) prog_type_since.socket_filter: "6.1" -> "6.12"; evidence: 5.10..6.1 refused; 6.12..7.3 offered`,
		`bpf_skb_pull_data (39) prog_type_until.lwt_seg6local: (none) -> "7.1"; evidence: 5.10 offered; 6.1..6.12 refused; 6.16..7.1 offered; 7.2..7.3 refused`,
		`bpf_skb_pull_data (39) prog_type_gaps.lwt_seg6local: (none) -> "6.1..6.12"; evidence: 5.10 offered; 6.1..6.12 refused; 6.16..7.1 offered; 7.2..7.3 refused`,
		"211 helpers against 11 kernels (0 failed): 3 changes to 2 helpers",
		"wrote " + edited,
	}
	if code != exitOK || stdout != strings.Join(want, "\n")+"\n" {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	got := testenv.Must(os.ReadFile(edited))(t)
	orig := testenv.Must(os.ReadFile(real))(t)
	// Without the matrix sources sync writes, the file is the committed one again, byte for
	// byte (the committed file has such sources too, from the sync that wrote it).
	strip := regexp.MustCompile(`(?m)^    matrix: "bpfmatrix helpers sync from[^\n]*\n|; then bpfmatrix helpers sync from[^"]*`)
	if strip.ReplaceAllString(string(got), "") != strip.ReplaceAllString(string(orig), "") {
		t.Errorf("the written file differs from the committed one beyond its matrix sources")
	}
}
