package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorded holds the observations of a real matrix run (see its README.md).
var recorded = filepath.Join("testdata", "observations")

// registryWith writes a copy of the built-in registry with text appended or substituted, as a
// contributor's edit would, and returns its path.
func registryWith(t *testing.T, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "registry", "helpers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edited := edit(string(b))
	if edited == string(b) {
		t.Fatal("the edit changed nothing")
	}
	p := filepath.Join(t.TempDir(), "helpers.yaml")
	if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVerifyRecordedObservations: the registry as committed agrees with what the kernels did.
func TestVerifyRecordedObservations(t *testing.T) {
	code, stdout, stderr := run("verify", "--in", recorded, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s\ncontradictions:\n%s", code, stderr, contradictions(t, stdout))
	}
	var doc verifyOutput
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Kernels) != 11 || len(doc.Helpers) != 211 || doc.Contradicted != 0 {
		t.Fatalf("%d kernels, %d helpers, %d contradicted", len(doc.Kernels), len(doc.Helpers), doc.Contradicted)
	}
	for _, k := range doc.Kernels {
		if k.Status != "ok" || k.Version == "" {
			t.Errorf("kernel %+v", k)
		}
	}
}

// contradictions extracts the problems from verify's JSON, for a readable failure.
func contradictions(t *testing.T, stdout string) string {
	var doc verifyOutput
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		return stdout
	}
	var b strings.Builder
	for _, hv := range doc.Helpers {
		for _, p := range hv.Problems {
			b.WriteString("bpf_" + hv.Name + ": " + p + "\n")
		}
	}
	return b.String()
}

// TestVerifyNewEntries is what a contributor sees for a bad new entry.
func TestVerifyNewEntries(t *testing.T) {
	// An id no kernel defines, as an old guide lists it.
	withFake := registryWith(t, func(s string) string {
		return s + `- id: 212
  name: ktime_get_real_ns
  signature:
    return: u64
    args: []
  min_kernel: "6.3"
  prog_types: [socket_filter, kprobe]
  gpl_only: false
  category: time
  description: Returns the wall-clock time in nanoseconds.
`
	})
	// A real helper declared one series too new: ringbuf_output appeared in 5.8, so the 5.10
	// kernel offers it although the entry says 6.1.
	tooNew := registryWith(t, func(s string) string {
		i := strings.Index(s, "  name: ringbuf_output\n")
		j := strings.Index(s[i:], `  min_kernel: "5.8"`)
		return s[:i+j] + `  min_kernel: "6.1"` + s[i+j+len(`  min_kernel: "5.8"`):]
	})
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
	}{
		{"id no kernel defines", []string{"--registry", withFake, "ktime_get_real_ns"}, exitNo,
			[]string{"bpf_ktime_get_real_ns (id 212): contradicted", "declared from 6.3, but unknown id on every kernel up to 7.3 (invalid func unknown#212)"}},
		{"one series too new", []string{"--registry", tooNew, "130"}, exitNo,
			[]string{"bpf_ringbuf_output (id 130): contradicted", "declared from 6.1, but 5.10 offers it"}},
		{"the untouched entries still agree", []string{"--registry", tooNew, "ringbuf_reserve", "ktime_get_ns"}, exitOK,
			[]string{"bpf_ringbuf_reserve (id 131):", "bpf_ktime_get_ns (id 5):"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(append([]string{"verify", "--in", recorded}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, stdout)
				}
			}
		})
	}
}

// TestVerifyExitCodes covers bad input and the no-evidence answer.
func TestVerifyExitCodes(t *testing.T) {
	failedOnly := t.TempDir()
	if err := os.WriteFile(filepath.Join(failedOnly, "6.12.json"),
		[]byte(`{"results":[],"guest":{"status":"failed","error":"kernel panic at boot"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown helper", []string{"verify", "--in", recorded, "no_such_helper"}, exitBadArgs, `unknown helper: "no_such_helper"`},
		{"bad format", []string{"verify", "--in", recorded, "--format", "yaml"}, exitBadArgs, `unknown format "yaml"`},
		{"bad registry", []string{"verify", "--in", recorded, "--registry", "/nonexistent.yaml"}, exitBadArgs, "/nonexistent.yaml"},
		{"nothing to read", []string{"verify", "--in", t.TempDir()}, exitBadArgs, "no kernel files"},
		{"every kernel failed", []string{"verify", "--in", failedOnly, "ktime_get_ns"}, exitNoEvidence, "kernel 6.12 failed: kernel panic at boot"},
		{"bad kernels file", []string{"verify", "--kernels-file", "/nonexistent/kernels.yaml"}, exitBadArgs, "/nonexistent/kernels.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d (want %d), stderr:\n%s\nwant it to mention %q", code, tt.code, stderr, tt.stderr)
			}
		})
	}
}
