package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// recordedObservations holds the 11 kernels' observations of 2026-11-27.
var recordedObservations = filepath.Join("testdata", "observations")

// editedObservations writes, into a new directory it returns, the recorded observations of the
// kernels named, each edited by edit: documents as a newer agent would write them.
func editedObservations(t *testing.T, names []string, edit func(name string, doc *observation.Document)) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range names {
		doc := readDoc(t, filepath.Join(recordedObservations, name+".json.gz"))
		edit(name, doc)
		writeDoc(t, filepath.Join(dir, name+".json"), doc)
	}
	return dir
}

// TestKfuncsCommands runs the kfunc commands against the built-in kfuncs.yaml: the helpers'
// exit codes (0 yes, 1 no, 2 bad input) and output.
func TestKfuncsCommands(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{[]string{"kfuncs", "compat", "bpf_task_acquire", "tracing", "6.12"}, 0, "compatible", ""},
		{[]string{"kfuncs", "compat", "bpf_task_acquire", "socket_filter", "7.3"}, 1, "socket_filter", ""},
		{[]string{"kfuncs", "compat", "bpf_task_acquire", "tracing", "6.1"}, 1, "6.12", ""},
		{[]string{"kfuncs", "compat", "bpf_task_acquire", "nope", "6.12"}, 2, "", "nope"},
		{[]string{"kfuncs", "compat", "bpf_task_acquire", "tracing", "six"}, 2, "", "six"},
		{[]string{"kfuncs", "info", "bpf_get_task_exe_file"}, 0, "bpf_get_task_exe_file", ""},
		{[]string{"kfuncs", "info", "no_such_kfunc"}, 2, "", "unknown kfunc"},
		{[]string{"kfuncs", "list", "--prog-type", "xdp", "--kernel", "7.3"}, 0, "bpf_dynptr_from_xdp", ""},
		{[]string{"kfuncs", "list", "--prog-type", "nope"}, 2, "", "nope"},
		{[]string{"kfuncs", "categories"}, 0, "sched_ext", ""},
		// As for helpers, a category no kfunc may have is bad input, not an empty list.
		{[]string{"kfuncs", "list", "--category", "nope"}, 2, "", `unknown category "nope"`},
		{[]string{"kfuncs", "list", "--category", "cpumask", "--kernel", "6.1"}, 0, "NAME", ""},
		{[]string{"kfuncs", "list", "--kfuncs", ""}, 2, "", ""},
		{[]string{"kfuncs", "sync", "--in", recordedObservations, "--kernels", "7.3"}, 2, "", "--kernels"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
		})
	}
}

// TestKfuncsJSON checks the JSON keys kfuncs share with helpers, and that keys without a value
// are left out rather than written as zero ("last_kernel": "0.0" was).
func TestKfuncsJSON(t *testing.T) {
	code, stdout, stderr := run("kfuncs", "list", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) < 300 {
		t.Fatalf("%d kfuncs", len(list))
	}
	for _, k := range list {
		for _, key := range []string{"name", "prototype", "min_kernel", "prog_types", "category", "description"} {
			if _, ok := k[key]; !ok {
				t.Fatalf("%v has no %q", k["name"], key)
			}
		}
		if v, ok := k["last_kernel"]; ok && (v == "" || v == "0.0") {
			t.Fatalf("%v: last_kernel %q", k["name"], v)
		}
	}
}

// TestKfuncsSyncRecorded proposes kfuncs.yaml from the recorded observations and writes it to a
// copy: the file written loads, and a second sync from it changes nothing.
func TestKfuncsSyncRecorded(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("..", "..", "registry", "kfuncs.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	copyPath := testenv.WriteFile(t, filepath.Join(dir, "kfuncs.yaml"), data)
	code, stdout, stderr := run("kfuncs", "sync", "--in", recordedObservations, "--kfuncs", copyPath, "--write")
	if code != 0 || !strings.Contains(stdout, "wrote "+copyPath) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	code, stdout, stderr = run("kfuncs", "sync", "--in", recordedObservations, "--kfuncs", copyPath)
	if code != 0 || !strings.Contains(stdout, " 0 added, 0 changed,") {
		t.Fatalf("second sync: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}
