package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/observation"
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
	return writeTemp(t, "helpers.yaml", edited)
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
		if k.Status != observation.StatusOK || k.Version == "" {
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

// guideEntries are the example entries of the guide this project grew from, ids 212 to 217, as
// YAML registry entries; 213 (skb_set_tstamp) is left out: its name is taken by id 192.
const guideEntries = `- id: 212
  name: ktime_get_real_ns
  signature: {return: u64, args: []}
  min_kernel: "6.3"
  prog_types: all
  gpl_only: false
  category: time
  description: Wall-clock time, as the guide has it.
- id: 214
  name: skb_get_nlattr
  signature: {return: long, args: [{name: skb, type: struct __sk_buff *}, {name: attr, type: u32}]}
  min_kernel: "6.4"
  prog_types: [sched_cls, sched_act]
  gpl_only: false
  category: network
  description: A netlink attribute of a packet, as the guide has it.
- id: 215
  name: get_task_exe_file
  signature: {return: struct file *, args: [{name: task, type: struct task_struct *}]}
  min_kernel: "6.5"
  prog_types: [tracing, lsm]
  gpl_only: true
  category: info
  description: A task's executable, as the guide has it.
- id: 216
  name: cgroup_set_ancestor_cgroup_id
  signature: {return: long, args: [{name: level, type: int}]}
  min_kernel: "6.6"
  prog_types: [cgroup_skb]
  gpl_only: false
  category: cgroup
  description: As the guide has it.
- id: 217
  name: cgroup_get_current_level
  signature: {return: long, args: []}
  min_kernel: "6.7"
  prog_types: [cgroup_skb, cgroup_sock]
  gpl_only: false
  category: cgroup
  description: As the guide has it.
`

// TestVerifyGuideEntries: the guide's example entries, appended to our registry or alone in a
// Clojure library's table, are each contradicted with the kernels' own reason (their enum
// bpf_func_id), and 213 as a name the kernels give id 192.
func TestVerifyGuideEntries(t *testing.T) {
	appended := registryWith(t, func(s string) string { return s + guideEntries })
	code, stdout, stderr := run("verify", "--in", recorded, "--registry", appended,
		"ktime_get_real_ns", "skb_get_nlattr", "get_task_exe_file", "cgroup_set_ancestor_cgroup_id", "cgroup_get_current_level")
	if code != exitNo {
		t.Fatalf("appended: exit %d, want %d\n%s\n%s", code, exitNo, stdout, stderr)
	}
	for _, id := range []string{"212", "214", "215", "216", "217"} {
		want := "CONTRADICTED id and name: no kernel defines helper id " + id + ": the last id is 155 on 5.10, 209 on 6.1, 211 on 6.12..7.3"
		if !strings.Contains(stdout, want) {
			t.Errorf("appended: output lacks %q:\n%s", want, stdout)
		}
	}
	// 213 appended: the loader refuses the duplicate name, naming both lines.
	dup := registryWith(t, func(s string) string {
		return s + strings.Replace(guideEntries, "- id: 214\n  name: skb_get_nlattr", "- id: 213\n  name: skb_set_tstamp", 1)
	})
	code, _, stderr = run("verify", "--in", recorded, "--registry", dup, "ktime_get_real_ns")
	if code != exitBadArgs || !regexp.MustCompile(`duplicate name "?skb_set_tstamp"? \(first at line \d+\)`).MatchString(stderr) {
		t.Errorf("duplicate skb_set_tstamp: exit %d, stderr %q", code, stderr)
	}
	// The guide's six in a Clojure-style table.
	edn := filepath.Join("..", "..", "registry", "foreign", "testdata", "guide-helpers.edn")
	code, stdout, stderr = run("verify", "--in", recorded, "--registry", edn)
	if code != exitNo {
		t.Fatalf("edn: exit %d, want %d\n%s\n%s", code, exitNo, stdout, stderr)
	}
	if n := strings.Count(stdout, ": contradicted\n"); n != 6 {
		t.Errorf("edn: %d entries contradicted, want 6:\n%s", n, stdout)
	}
	if !strings.Contains(stdout, "the kernels call skb_set_tstamp id 192") || !strings.Contains(stdout, ":skb-set-tstamp (") {
		t.Errorf("edn: 213 is not contradicted with the kernels' id for its name:\n%s", stdout)
	}
}

// TestVerifyArgumentKinds: a declared argument type of the wrong kind (map_lookup_elem's key as
// a u64 value) is contradicted by what the verifier expects of that argument.
func TestVerifyArgumentKinds(t *testing.T) {
	edited := registryWith(t, func(s string) string {
		i := strings.Index(s, "  name: map_lookup_elem\n")
		j := i + strings.Index(s[i:], "{name: key, type: const void *}")
		return s[:j] + "{name: key, type: u64}" + s[j+len("{name: key, type: const void *}"):]
	})
	code, stdout, stderr := run("verify", "--in", recorded, "--registry", edited, "map_lookup_elem", "map_update_elem")
	if code != exitNo {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitNo, stdout, stderr)
	}
	if !strings.Contains(stdout, "CONTRADICTED argument kinds: argument 2 (key) is declared u64 (scalar), the verifier on 7.3 expects pointer") {
		t.Errorf("no argument-kind contradiction:\n%s", stdout)
	}
	if !strings.Contains(stdout, "argument kinds: confirmed: every argument has the kind the verifier on 7.3 expects") {
		t.Errorf("map_update_elem's arguments not confirmed:\n%s", stdout)
	}
}

// TestVerifyArch: verify judges an arm64 document with the answers archdiffs.yaml records for
// its release expected instead of the registry's: the recorded refusal of bpf_task_from_pid to
// tracing programs on arm64 6.12 is no contradiction, the same refusal without the record is
// one (named by the kernel's label), and amd64's document is judged as without the table.
func TestVerifyArch(t *testing.T) {
	arm := t.TempDir()
	doc := readDoc(t, filepath.Join(recordedObservations, "6.12.json.gz"))
	doc.Guest.Arch = observation.ArchARM64
	for i, r := range doc.Results {
		if r.Kfunc == "bpf_task_from_pid" && r.ProgType == "tracing" {
			doc.Results[i].Outcome, doc.Results[i].Detail = observation.NotForType, "arm64 says not_for_type"
		}
	}
	writeDoc(t, filepath.Join(arm, "6.12-arm64.json"), doc)
	amd := t.TempDir()
	writeDoc(t, filepath.Join(amd, "6.12.json"), readDoc(t, filepath.Join(recordedObservations, "6.12.json.gz")))
	ad := writeTemp(t, "archdiffs.yaml", archFixture)
	none := writeTemp(t, "none.yaml", "compared: []\ndifferences: []\n")
	bad := writeTemp(t, "bad.yaml", "compared: []\n")
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--in", arm, "--archdiffs", ad}, exitOK, "bpf_task_from_pid (kfunc): ", ""},
		{[]string{"--in", arm, "--archdiffs", none}, exitNo, "6.12-arm64", ""},
		{[]string{"--in", arm}, exitNo, "6.12-arm64", ""}, // the built-in table records no difference
		{[]string{"--in", amd, "--archdiffs", ad}, exitOK, "bpf_task_from_pid (kfunc): ", ""},
		{[]string{"--in", arm, "--archdiffs", bad}, exitBadArgs, "", `bad.yaml:1: missing required key "differences"`},
		{[]string{"--in", arm, "--arch", "arm64"}, exitBadArgs, "", "--arch does not apply"},
		{[]string{"--arch", "riscv64"}, exitBadArgs, "", `--arch: unknown architecture "riscv64"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(append(append([]string{"verify"}, tt.args...), "bpf_task_from_pid")...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, want %d (stdout %q, stderr %q)\nstdout:\n%s\nstderr:\n%s", code, tt.code, tt.stdout, tt.stderr, stdout, stderr)
			}
		})
	}
	// amd64's verdicts with and without a table of differences are the same, byte for byte.
	_, with, _ := run("verify", "--in", amd, "--archdiffs", ad, "--format", "json", "bpf_task_from_pid")
	_, without, _ := run("verify", "--in", amd, "--format", "json", "bpf_task_from_pid")
	if with != without {
		t.Errorf("amd64 verdicts differ with --archdiffs:\n%s\n%s", with, without)
	}
}

// TestVerifyARM64Boot: verify --arch arm64 boots the kernels' arm64 builds (on --qemu-arm64,
// with an arm64 agent; the fake QEMU replays a recorded guest) and names each kernel by its
// label; the second call answers from the cache.
func TestVerifyARM64Boot(t *testing.T) {
	kfile, agent := fakeARM64Kernels(t)
	stream, err := filepath.Abs(filepath.Join("..", "..", "observe", "testdata", "guest-7.3", "results.stream"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeqemu.EnvMode, fakeqemu.Replay)
	t.Setenv(fakeqemu.EnvStream, stream)
	cache, out := t.TempDir(), t.TempDir()
	for i, wantCached := range []bool{false, true} {
		code, stdout, stderr := run("verify", "--arch", "arm64", "--kernels-file", kfile, "--qemu-arm64", os.Args[0], "--qemu", "/nonexistent/qemu",
			"--agent", agent, "--accel", "tcg", "--retries", "0", "--cache-dir", cache, "--out", out, "--format", "json", "ringbuf_output")
		var doc struct {
			Kernels []verifyKernel `json:"kernels"`
		}
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("call %d: exit %d, %v\n%s", i+1, code, err, stderr)
		}
		if len(doc.Kernels) != 1 || doc.Kernels[0].Name != "6.12-arm64" || doc.Kernels[0].Status != observation.StatusOK || doc.Kernels[0].Cached != wantCached {
			t.Fatalf("call %d: exit %d, kernels %+v (want cached %v)\n%s", i+1, code, doc.Kernels, wantCached, stderr)
		}
	}
	if d := readDoc(t, filepath.Join(out, "6.12-arm64.json")); observation.ArchOf(d) != observation.ArchARM64 {
		t.Errorf("--out's document says arch %q", observation.ArchOf(d))
	}
}
