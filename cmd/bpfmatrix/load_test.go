package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/bpfobj"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/internal/testobjects"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/observe"
	"github.com/bpfmatrix/bpfmatrix/realobjects"
)

// loadObjects are the test objects of package objverdict: compiled BPF objects checked in.
var loadObjects = filepath.Join("..", "..", "objverdict", "testdata")

func loadObject(name string) string { return filepath.Join(loadObjects, name) }

// TestLoadStaticExitCodes: 0 when every program loads everywhere, 1 when one is refused, 2 for
// bad input named with its reason; --static never boots (no QEMU is named: --qemu points
// nowhere).
func TestLoadStaticExitCodes(t *testing.T) {
	dir := t.TempDir()
	text := testenv.WriteFile(t, filepath.Join(dir, "notes.o"), []byte("not an object\n"))
	host, err := os.Executable() // this test binary: an ELF for the host's machine
	if err != nil {
		t.Fatal(err)
	}
	static := []string{"load", "--static", "--kernels-file", repoKernels, "--qemu", filepath.Join(dir, "no-qemu")}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"refused somewhere", []string{"--kernels", "5.10,7.3", loadObject("calls.o")}, 1, ""},
		{"a GPL-only call in a non-GPL object", []string{"--kernels", "7.3", loadObject("nongpl.o")}, 1, ""},
		{"loader refuses", []string{"--kernels", "7.3", loadObject("weak.o")}, 1, ""},
		{"text file", []string{loadObject("calls.o"), text}, 2, text + ": not an ELF file"},
		{"host ELF", []string{host}, 2, "not BPF (e_machine"},
		{"missing file", []string{filepath.Join(dir, "gone.o")}, 2, "gone.o"},
		{"directory", []string{dir}, 2, dir},
		{"unknown kernel", []string{"--kernels", "5.10,4.19", loadObject("calls.o")}, 2, `unknown kernel "4.19"`},
		{"bad --set", []string{"--set", "counts", loadObject("calls.o")}, 2, `--set "counts": no '='`},
		{"--set of an unknown key", []string{"--set", "events.size=8", loadObject("calls.o")}, 2, `events.size=8`},
		{"bad format", []string{"--format", "html", loadObject("calls.o")}, 2, `unknown format "html"`},
		{"no object", []string{"--kernels", "7.3"}, 2, "no object named"},
		{"named twice", []string{loadObject("calls.o"), loadObject("calls.o")}, 2, "named twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(append(static, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and stderr saying %q\nstdout: %s", code, stderr, tt.code, tt.stderr, stdout)
			}
			if tt.code == 2 && stdout != "" {
				t.Errorf("bad input printed answers: %s", stdout)
			}
		})
	}
}

// TestLoadStaticAllLoad: an object whose programs load everywhere exits 0. It is built here
// from calls.o's xdp_pass alone, so clang is needed.
func TestLoadStaticAllLoad(t *testing.T) {
	obj := buildObject(t, `
typedef unsigned long long __u64;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
__attribute__((section("xdp"), used)) int pass(void *ctx) { return (bpf_ktime_get_ns() & 0) + 2; }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
`)
	code, stdout, stderr := run("load", "--static", "--kernels-file", repoKernels, obj)
	if code != exitOK || !strings.Contains(stdout, "pass: every kernel") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and pass loading on every kernel", code, stdout, stderr)
	}
}

// buildObject compiles C source into a BPF object in a temporary directory.
func buildObject(t *testing.T, src string) string {
	t.Helper()
	clang := testenv.NeedCommand(t, "clang", "clang")
	dir := t.TempDir()
	c := testenv.WriteFile(t, filepath.Join(dir, "prog.c"), []byte(src))
	out := filepath.Join(dir, "prog.o")
	if b, err := exec.Command(clang, "-target", "bpfel", "-O2", "-g", "-c", c, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, b)
	}
	return out
}

// TestLoadStaticJSON checks the JSON contract: every answer with its keys, on the kernels asked
// in kernels.yaml order, and the answer of the guide's program on 5.10 naming bpf_loop.
func TestLoadStaticJSON(t *testing.T) {
	code, stdout, stderr := run("load", "--static", "--format", "json", "--kernels-file", repoKernels, "--kernels", "7.3,5.10", loadObject("calls.o"))
	if code != exitNo {
		t.Fatalf("exit %d, stderr %q; want 1", code, stderr)
	}
	var doc struct {
		Kernels  []string         `json:"kernels"`
		Loads    []map[string]any `json:"loads"`
		Programs []map[string]any `json:"programs"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if strings.Join(doc.Kernels, ",") != "5.10,7.3" {
		t.Errorf("kernels %v, want 5.10,7.3 in kernels.yaml order", doc.Kernels)
	}
	found := false
	for _, a := range doc.Loads {
		for _, k := range []string{"object", "program", "section", "prog_type", "kernel", "version", "loaded", "cause", "reason", "calls", "static"} {
			if _, ok := a[k]; !ok {
				t.Errorf("answer %v has no key %q", a["program"], k)
			}
		}
		if a["program"] == "loop_kprobe" && a["kernel"] == "5.10" {
			found = true
			if a["loaded"] != false || a["cause"] != "helper_unknown" || !strings.Contains(a["reason"].(string), "bpf_loop") || a["static"] != true {
				t.Errorf("loop_kprobe on 5.10: %v", a)
			}
		}
	}
	if !found || len(doc.Programs) == 0 {
		t.Errorf("no answer for loop_kprobe on 5.10, or no program summaries:\n%s", stdout)
	}
}

// TestLoadStaticOut: --out writes the three files, each readable, next to the output asked.
func TestLoadStaticOut(t *testing.T) {
	out := filepath.Join(t.TempDir(), "answers")
	code, stdout, stderr := run("load", "--static", "--format", "md", "--out", out, "--kernels-file", repoKernels, "--kernels", "5.10", loadObject("nongpl.o"))
	if code != exitNo || !strings.Contains(stdout, "| read_kernel |") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for name, check := range map[string]func([]byte) error{
		"load.json": func(b []byte) error { return json.Unmarshal(b, new(map[string]any)) },
		"load.xml":  func(b []byte) error { return xml.Unmarshal(b, new(struct{})) },
		"load.md":   func([]byte) error { return nil },
	} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err := check(b); err != nil || !strings.Contains(string(b), "read_kernel") {
			t.Errorf("%s does not read back or lacks read_kernel (%v):\n%s", name, err, b)
		}
	}
}

// TestKernelAnswers turns what guests said into answers: a guest's answers keyed by the
// object's name in the guest, a failed kernel's programs kernel_failed, a program a guest gave no
// answer for unknown (never dropped), every answer named by the path the user gave.
func TestKernelAnswers(t *testing.T) {
	paths := []string{loadObject("nongpl.o"), filepath.Join(t.TempDir(), "nongpl.o")}
	data, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, paths[1], data)
	objs, inputs, err := readObjects(paths)
	if err != nil {
		t.Fatal(err)
	}
	if inputs[0].Name == inputs[1].Name || inputs[0].SHA256 != inputs[1].SHA256 {
		t.Fatalf("inputs %+v: two objects of one base name need two guest names", inputs)
	}
	regs, err := loadRegistries("", "")
	if err != nil {
		t.Fatal(err)
	}
	said := observation.ProgramLoad{Object: inputs[1].Name, Program: "read_kernel", Section: "kprobe/do_unlinkat",
		Cause: observation.CauseGPLOnly, Reason: "cannot call GPL-restricted function from non-GPL compatible program"}
	ok := kernelAnswers(observe.LoadObservation{Name: "7.3", Image: observation.Image{Version: "7.3.4"}, Loads: []observation.ProgramLoad{said}}, objs, inputs, regs)
	failed := kernelAnswers(observe.LoadObservation{Name: "6.1", Failed: true, Guest: &observation.Guest{Status: observation.StatusFailed, Error: "no trailer"}}, objs, inputs, regs)
	if n := 2 * len(objs[0].Programs); len(ok) != n || len(failed) != n {
		t.Fatalf("%d and %d answers, want %d each", len(ok), len(failed), n)
	}
	for _, a := range ok {
		switch {
		case a.Object == paths[1] && a.Program == "read_kernel":
			if a.Cause != observation.CauseGPLOnly || !strings.Contains(a.Explanation, "bpf_probe_read_kernel") {
				t.Errorf("answered program: %+v", a)
			}
		case a.Cause != observation.CauseUnknown || !strings.Contains(a.Reason, "gave no answer"):
			t.Errorf("%s %s: a program without an answer got %+v", a.Object, a.Program, a)
		}
	}
	for _, a := range failed {
		if a.Cause != observation.CauseKernelFailed || !strings.Contains(a.Reason, "no trailer") || (a.Object != paths[0] && a.Object != paths[1]) {
			t.Errorf("failed kernel: %+v", a)
		}
	}
}

// TestLoadBooted loads every test object on 5.10 and 7.3 in real guests (one boot per kernel)
// and checks each program's answer: every cause a kernel can give is exercised, with the
// run-time defaults (a ring buffer sized 0, a pinned map, .kconfig, a retargeted fentry) and
// attaching. Then --static is asked the same: where it names a cause the registries can know, the
// kernels must agree, and where the kernels refuse for such a cause, --static must say so too.
func TestLoadBooted(t *testing.T) {
	needQEMU(t)
	var objs []string
	for _, name := range testobjects.Names() {
		objs = append(objs, testobjects.Path(t, name))
	}
	args := append([]string{"load", "--kernels-file", repoKernels, "--kernels", "5.10,7.3", "--format", "json",
		"--attach", "--set", "fentry_dummy.o:retargeted.target=vfs_read"}, objs...)
	code, stdout, stderr := run(args...)
	if code != exitNo {
		t.Fatalf("exit %d, want %d (some programs are refused)\nstderr: %s", code, exitNo, stderr)
	}
	booted := loadAnswers(t, stdout)
	refused := func(c observation.Cause) [2]observation.Cause { return [2]observation.Cause{c, c} }
	loaded := [2]observation.Cause{}
	want := map[string][2]observation.Cause{ // object/program -> cause on 5.10, on 7.3 ("" loaded)
		"attach_target/fentry_missing":           refused(observation.CauseAttachTarget),
		"attach_target/tp_btf_missing":           refused(observation.CauseAttachTarget),
		"btf/call_pick":                          refused(observation.CauseBTF),
		"core_relocation/read_missing_field":     refused(observation.CauseCORERelocation),
		"fentry_dummy/retargeted":                loaded,
		"fentry_dummy/retargeted_kprobe":         loaded,
		"globals/count_packets":                  loaded,
		"gpl_only/read_proprietary":              refused(observation.CauseGPLOnly),
		"helper_not_for_type/override_in_socket": refused(observation.CauseHelperNotForType),
		"helper_unknown/new_helper":              refused(observation.CauseHelperUnknown),
		"kconfig/config_values":                  loaded,
		"kconfig/config_hz":                      loaded,
		"kfunc_not_for_type/task_in_socket":      {observation.CauseKfuncUnknown, observation.CauseKfuncNotForType},
		"kfunc_unknown/call_missing":             refused(observation.CauseKfuncUnknown),
		"loader_weak/plain_kprobe":               refused(observation.CauseLoader),
		"loader_weak/usdt_like":                  refused(observation.CauseLoader),
		"map/use_bad_ring":                       refused(observation.CauseMap),
		"pinned/count_open":                      loaded,
		"prog_type/lsm_open":                     loaded,
		"prog_type/syscall_prog":                 {observation.CauseProgType, ""},
		"prog_type/netfilter_prog":               {observation.CauseProgType, ""},
		"raw_tp/on_sys_enter":                    loaded,
		"ringbuf_zero/send_event":                loaded,
		"kversion/version_parity":                loaded,
		"stackmap/take_stack":                    loaded,
		"unknown_section/unknown_kind":           refused(observation.CauseLoader),
		"verifier/null_deref":                    refused(observation.CauseVerifier),
		"xdp_pass/pass":                          loaded,
	}
	got := map[string][2]observation.Cause{}
	for _, a := range booted {
		key := strings.TrimSuffix(filepath.Base(a.Object), ".o") + "/" + a.Program
		i := map[string]int{"5.10": 0, "7.3": 1}[a.Kernel]
		c := got[key]
		c[i] = a.Cause
		got[key] = c
		if !a.Loaded && (a.Cause == "" || a.Reason == "") {
			t.Errorf("%s on %s: refused without cause and reason: %+v", key, a.Kernel, a)
		}
		if a.Loaded != (a.Cause == "") {
			t.Errorf("%s on %s: loaded %v with cause %q", key, a.Kernel, a.Loaded, a.Cause)
		}
	}
	for key, w := range want {
		if got[key] != w {
			t.Errorf("%s: causes on 5.10, 7.3 are %q, want %q", key, got[key], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d programs answered, want %d: %v", len(got), len(want), got)
	}
	compareStatic(t, objs, booted)
}

// loadAnswer is what the tests read of one answer of `load --format json`.
type loadAnswer struct {
	Object, Program, Kernel, Reason string
	Loaded                          bool
	Cause                           observation.Cause
	Defaults                        []string
	Attached                        *bool
}

func loadAnswers(t *testing.T, stdout string) []loadAnswer {
	t.Helper()
	var doc struct{ Loads []loadAnswer }
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("load --format json: %v\n%s", err, stdout)
	}
	return doc.Loads
}

// staticKnows are the causes the registries and the ELF can tell without a kernel; the others
// (a target, a relocation, a map, BTF, the verifier) are the documented limits of --static.
var staticKnows = map[observation.Cause]bool{
	observation.CauseHelperUnknown: true, observation.CauseHelperNotForType: true, observation.CauseKfuncUnknown: true,
	observation.CauseKfuncNotForType: true, observation.CauseGPLOnly: true, observation.CauseProgType: true,
	observation.CauseLoader: true,
}

// compareStatic asks --static about the same objects and checks it against the kernels' answers.
func compareStatic(t *testing.T, objs []string, booted []loadAnswer) {
	t.Helper()
	args := append([]string{"load", "--static", "--kernels-file", repoKernels, "--kernels", "5.10,7.3", "--format", "json"}, objs...)
	_, stdout, stderr := run(args...)
	static := loadAnswers(t, stdout)
	if len(static) != len(booted) {
		t.Fatalf("--static gave %d answers, the kernels %d\n%s", len(static), len(booted), stderr)
	}
	byKey := map[string]loadAnswer{}
	for _, a := range booted {
		byKey[a.Object+"/"+a.Program+"/"+a.Kernel] = a
	}
	for _, s := range static {
		b := byKey[s.Object+"/"+s.Program+"/"+s.Kernel]
		switch {
		case staticKnows[s.Cause] && s.Cause != b.Cause:
			t.Errorf("%s %s on %s: --static says %s (%s), the kernel %q (%s)", s.Object, s.Program, s.Kernel, s.Cause, s.Reason, b.Cause, b.Reason)
		case staticKnows[b.Cause] && s.Cause != b.Cause:
			t.Errorf("%s %s on %s: the kernel refused it for %s (%s), --static says %q", s.Object, s.Program, s.Kernel, b.Cause, b.Reason, s.Cause)
		}
	}
}

// TestLoadRealObjects loads the pinned objects of Debian's libxdp1 and xdp-tools (from the cache;
// fetched into it when BPFMATRIX_TEST_NETWORK allows, as the kernels are) on 5.10 and 7.3: every
// program of every object gets an answer on both kernels, every refusal a known cause and the
// line that decided it, and --static agrees with the kernels where it can know.
func TestLoadRealObjects(t *testing.T) {
	needQEMU(t)
	lock, err := realobjects.Pinned()
	if err != nil {
		t.Fatal(err)
	}
	got, err := realobjects.Fetch(context.Background(), lock, realobjects.Options{Offline: !testenv.Network()})
	switch {
	case err != nil && testenv.Network():
		t.Fatal(err)
	case err != nil:
		t.Skipf("the pinned objects are not cached (%v); set %s=1 to fetch them", err, testenv.EnvNetwork)
	}
	var paths []string
	programs := 0
	seen := map[string]bool{}
	for _, o := range got {
		if !seen[o.SHA256] {
			seen[o.SHA256] = true
			paths = append(paths, o.Path)
			obj, err := bpfobj.Read(o.Path)
			if err != nil {
				t.Fatal(err)
			}
			programs += len(obj.Programs)
		}
	}
	args := append([]string{"load", "--kernels-file", repoKernels, "--kernels", "5.10,7.3", "--format", "json"}, paths...)
	code, stdout, stderr := run(args...)
	if code != exitOK && code != exitNo {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	answers := loadAnswers(t, stdout)
	if len(answers) != 2*programs {
		t.Errorf("%d answers for %d programs on 2 kernels", len(answers), programs)
	}
	for _, a := range answers {
		if !a.Loaded && (!a.Cause.Valid() || a.Cause == observation.CauseUnknown || a.Cause == observation.CauseKernelFailed || a.Reason == "") {
			t.Errorf("%s %s on %s: refused with cause %q, reason %q", a.Object, a.Program, a.Kernel, a.Cause, a.Reason)
		}
	}
	compareStatic(t, paths, answers)
}
