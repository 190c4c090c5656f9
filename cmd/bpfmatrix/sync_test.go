package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
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
