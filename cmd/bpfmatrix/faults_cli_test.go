package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// TestFaultNumericFlagsBounded: a number that sizes a pool is refused while the flags are
// parsed (exit 2), before any file is read: `--parallel 9999999999` once allocated until the
// OOM killer came. (The guest flags of run, verify and sync are guestflags.go's.)
func TestFaultNumericFlagsBounded(t *testing.T) {
	for _, args := range [][]string{
		{"kernels", "fetch", "--parallel", "9999999999"},
		{"kernels", "fetch", "--parallel", "-1"},
		{"kernels", "fetch", "--parallel", "4x"},
		{"probe", "--workers", "9999999999"},
		{"probe", "--workers", "-1"},
		{"probe", "--workers", "99999999999999999999999"},
	} {
		// A file that does not exist: without the bound, the command fails later, for it.
		args := append(args, "--"+map[string]string{"kernels": "kernels-file", "probe": "registry"}[args[0]], "/nonexistent/file.yaml")
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, stderr := run(args...)
			if code != exitBadArgs || !strings.Contains(stderr, "invalid value") || strings.Contains(stderr, "/nonexistent") {
				t.Errorf("exit %d, stderr %q; want %d refusing the number", code, stderr, exitBadArgs)
			}
		})
	}
}

// escapes is what a hostile table hides in its text: a window title, a screen clear, hidden
// text, a C1 control sequence introducer and a right-to-left override.
const escapes = `\u001b]0;owned\u0007 \u001b[2J \u001b[8m \u009b31m \u202e`

// TestFaultControlCharactersEscaped: text of a table given with --registry or --kfuncs is
// shown with its control characters escaped by info and list; JSON output writes them as \u
// escapes (the encoder alone passed C1 controls and bidirectional overrides through raw).
func TestFaultControlCharactersEscaped(t *testing.T) {
	dir := t.TempDir()
	helpers := filepath.Join(dir, "table.json")
	os.WriteFile(helpers, []byte(`[{"id": 1, "name": "map_lookup_elem",
  "signature": {"return": "void *`+escapes+`", "args": [{"name": "map", "type": "struct bpf_map *`+escapes+`"}]},
  "min_kernel": "3.19", "prog_types": "all", "category": "map", "description": "Looks up`+escapes+`"}]`), 0o644)
	kfuncs := filepath.Join(dir, "kfuncs.yaml")
	os.WriteFile(kfuncs, []byte(`- name: bpf_task_acquire
  prototype: "struct task_struct *bpf_task_acquire(struct task_struct *p)`+escapes+`"
  min_kernel: "6.2"
  prog_types: [tracing]
  category: task
  description: "Acquires`+escapes+`"
`), 0o644)
	for _, args := range [][]string{
		{"helpers", "info", "1", "--registry", helpers},
		{"helpers", "list", "--registry", helpers},
		{"helpers", "info", "1", "--registry", helpers, "--format", "json"},
		{"kfuncs", "info", "bpf_task_acquire", "--kfuncs", kfuncs},
		{"kfuncs", "list", "--kfuncs", kfuncs},
		{"kfuncs", "info", "bpf_task_acquire", "--kfuncs", kfuncs, "--format", "json"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := run(args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if i := strings.IndexFunc(stdout, escaped); i >= 0 {
				t.Errorf("stdout holds %q raw:\n%q", stdout[i:i+1], stdout)
			}
			if args[2] == "1" || args[2] == "bpf_task_acquire" {
				want := `\x1b]0;owned\x07 \x1b[2J \x1b[8m \x9b31m \u202e`
				if args[len(args)-1] == "json" {
					want = `\u001b]0;owned\u0007 \u001b[2J \u001b[8m \u009b31m \u202e`
				}
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
		})
	}
}

// TestFaultOutputWriteFailure: output that cannot be written (a full device, made with mknod
// here) is a failure named on stderr, never exit 0.
func TestFaultOutputWriteFailure(t *testing.T) {
	full := testenv.Nodes(t, t.TempDir(), "full")[0]
	for _, args := range [][]string{
		{"helpers", "list"},
		{"helpers", "list", "--format", "json"},
		{"helpers", "info", "ringbuf_output"},
		{"helpers", "export", "--format", "c"},
		{"kfuncs", "categories"},
		{"kfuncs", "compat", "bpf_task_acquire", "tracing", "6.12"},
		{"report", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			f, err := os.OpenFile(full, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var stderr bytes.Buffer
			code := dispatch(args, f, &stderr)
			want := "bpfmatrix " + strings.Join(args[:min(2, len(args))], " ")
			if args[0] == "report" {
				want = "bpfmatrix report"
			}
			if code == exitOK || !strings.Contains(stderr.String(), want+": writing the output:") || !strings.Contains(stderr.String(), "no space left on device") {
				t.Errorf("exit %d, stderr %q; want a failure naming the write", code, stderr.String())
			}
		})
	}
}

// TestFaultCompatMessages: compat says when the version asked is past the newest kernel tested
// (keeping its answer and exit code), never prints an empty list, and a name of the other table
// is answered with the command that knows it.
func TestFaultCompatMessages(t *testing.T) {
	tests := []struct {
		args           []string
		code           int
		stdout, stderr string
		notStdout      string
	}{
		{[]string{"kfuncs", "compat", "bpf_task_acquire", "tracing", "99.99"}, exitOK, "compatible: bpf_task_acquire may be called from tracing programs on 99.99", "99.99 is past the newest kernel tested (7.3.", ""},
		{[]string{"helpers", "compat", "ktime_get_ns", "xdp", "99.99"}, exitOK, "compatible: bpf_ktime_get_ns", "99.99 is past the newest kernel tested", ""},
		{[]string{"helpers", "compat", "ktime_get_boot_ns", "xdp", "99.1"}, exitOK, "compatible", "past the newest kernel tested", ""},
		{[]string{"kfuncs", "compat", "bpf_session_cookie", "kprobe", "7.3"}, exitNo, "bpf_session_cookie is not callable from kprobe programs: the registry declares it for no program type", "", "(declared: )"},
		{[]string{"kfuncs", "compat", "bpf_session_cookie", "kprobe", "6.1"}, exitNo, "first appeared in 6.12", "", "(declared: )"},
		{[]string{"helpers", "info", "bpf_task_acquire"}, exitBadArgs, "", `unknown helper: "bpf_task_acquire" (bpf_task_acquire is a kfunc: see bpfmatrix kfuncs info)`, ""},
		{[]string{"helpers", "compat", "bpf_task_acquire", "tracing", "6.12"}, exitBadArgs, "", "is a kfunc: see bpfmatrix kfuncs compat", ""},
		{[]string{"kfuncs", "info", "bpf_map_lookup_elem"}, exitBadArgs, "", `unknown kfunc "bpf_map_lookup_elem" (bpf_map_lookup_elem is a helper: see bpfmatrix helpers info)`, ""},
		{[]string{"kfuncs", "compat", "map_lookup_elem", "xdp", "6.1"}, exitBadArgs, "", "is a helper: see bpfmatrix helpers compat", ""},
		{[]string{"kfuncs", "info", "no_such_function"}, exitBadArgs, "", `unknown kfunc "no_such_function"` + "\n", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) ||
				(tt.notStdout != "" && strings.Contains(stdout, tt.notStdout)) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout ~ %q, stderr ~ %q", code, tt.code, stdout, stderr, tt.stdout, tt.stderr)
			}
		})
	}
	// Within the kernels tested, no note.
	if _, _, stderr := run("kfuncs", "compat", "bpf_task_acquire", "tracing", "7.3"); stderr != "" {
		t.Errorf("7.3: stderr %q", stderr)
	}
}
