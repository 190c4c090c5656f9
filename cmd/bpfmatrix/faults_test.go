package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// envCLI makes the test binary run as the bpfmatrix command (for tests that must signal it).
const envCLI = "BPFMATRIX_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(envCLI) != "" {
		// The command's QEMU children are this binary too, as the fake: they must not be the
		// command again.
		os.Unsetenv(envCLI)
		os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
	}
	fakeqemu.Main()
	os.Exit(m.Run())
}

// fakeKernels writes a kernels.yaml of local images whose names tell the fake QEMU how to
// behave (see fakeqemu.ByImage) and points the fake at a stream recorded from a real guest.
func fakeKernels(t *testing.T, modes ...string) string {
	t.Helper()
	dir := t.TempDir()
	var y strings.Builder
	y.WriteString("kernels:\n")
	for _, m := range modes {
		testenv.WriteFile(t, filepath.Join(dir, m+".img"), fakeBzImage("7.3.4-fake-"+m))
		y.WriteString("  - name: " + m + "\n    path: " + m + ".img\n")
	}
	kfile := testenv.WriteFile(t, filepath.Join(dir, "kernels.yaml"), []byte(y.String()))
	stream, err := filepath.Abs(filepath.Join("..", "..", "observe", "testdata", "guest-7.3", "results.stream"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeqemu.EnvMode, fakeqemu.ByImage)
	t.Setenv(fakeqemu.EnvStream, stream)
	return kfile
}

func readDoc(t *testing.T, path string) *observation.Document {
	t.Helper()
	d, err := observation.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestFaultRunQEMU: `bpfmatrix run` with kernels whose QEMU replays a real guest, cuts its
// stream, exits with an error, or hangs past its timeout. Exit 1; each failed kernel is named
// with its reason; the healthy kernel's results and the cut kernel's partial results are
// written.
func TestFaultRunQEMU(t *testing.T) {
	kfile := fakeKernels(t, fakeqemu.Replay, fakeqemu.Cut, fakeqemu.ExitError, fakeqemu.Hang)
	out := t.TempDir()
	// Nothing of the run may stay in the temporary directory (the agent binary once did, 4 MB
	// per run).
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	defer func() {
		if left, _ := os.ReadDir(tmp); len(left) > 0 {
			t.Errorf("the run left %d entries in TMPDIR, e.g. %s", len(left), left[0].Name())
		}
	}()
	code, _, stderr := run("run", "--kernels-file", kfile, "--qemu", os.Args[0], "--accel", "tcg",
		"--timeout", "3s", "--retries", "0", "--out", out, "--cache-dir", t.TempDir())
	if code != exitNo {
		t.Fatalf("exit %d, want %d\n%s", code, exitNo, stderr)
	}
	for _, want := range []string{"3 failed", "cut      failed: result stream truncated", "exit-error failed: qemu exited before the guest sent anything", fakeqemu.ErrorText, "hang     failed: guest did not finish within 3s"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if d := readDoc(t, filepath.Join(out, "replay.json")); !d.OK() || len(d.Results) != 6454 {
		t.Errorf("healthy kernel: status %s, %d results", d.Guest.Status, len(d.Results))
	}
	if d := readDoc(t, filepath.Join(out, "cut.json")); d.OK() || len(d.Results) == 0 {
		t.Errorf("cut kernel: status %s, %d results kept", d.Guest.Status, len(d.Results))
	}
	if d := readDoc(t, filepath.Join(out, "exit-error.json")); !strings.Contains(d.Guest.Error, fakeqemu.ErrorText) {
		t.Errorf("exit-error kernel: error %q", d.Guest.Error)
	}
}

// TestFaultRunBadProgType: a program type the probe does not know is refused before anything
// boots (exit 2), and nothing is written.
func TestFaultRunBadProgType(t *testing.T) {
	kfile := fakeKernels(t, fakeqemu.Replay)
	out := filepath.Join(t.TempDir(), "out")
	start := time.Now()
	code, _, stderr := run("run", "--kernels-file", kfile, "--qemu", os.Args[0], "--prog-types", "nope", "--out", out)
	if code != exitBadArgs || !strings.Contains(stderr, `"nope"`) {
		t.Fatalf("exit %d, stderr %q; want %d naming nope", code, stderr, exitBadArgs)
	}
	if _, err := os.Stat(out); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("the run went on: out %v, %v", err, time.Since(start))
	}
}

// TestFaultRunSignal interrupts `bpfmatrix run` (a process of its own, as a user's Ctrl-C
// does) while one kernel has finished and another hangs: exit 1, the finished kernel's file is
// kept whole, the hanging one is not written as if it had answered, and no QEMU is left.
func TestFaultRunSignal(t *testing.T) {
	kfile := fakeKernels(t, fakeqemu.Replay, fakeqemu.Hang)
	out := t.TempDir()
	// The guests' directories are under this TMPDIR: the fakes of this test are told apart from
	// those of other packages' tests running at the same time by their working directory.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cmd := exec.Command(os.Args[0], "run", "--kernels-file", kfile, "--qemu", os.Args[0], "--accel", "tcg",
		"--parallel", "2", "--out", out, "--cache-dir", t.TempDir())
	cmd.Env = append(os.Environ(), envCLI+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(out, "replay.json")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the healthy kernel never finished:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := cmd.ProcessState.ExitCode(); code != exitNo {
			t.Errorf("exit %d (%v), want %d\n%s", code, err, exitNo, stderr.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("run did not stop within 20s of SIGINT:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say the run was interrupted:\n%s", stderr.String())
	}
	if d := readDoc(t, filepath.Join(out, "replay.json")); !d.OK() || len(d.Results) != 6454 {
		t.Errorf("the finished kernel lost its results: %s, %d", d.Guest.Status, len(d.Results))
	}
	if _, err := os.Stat(filepath.Join(out, "hang.json")); err == nil {
		t.Errorf("the interrupted kernel was written as if it had answered")
	}
	// None of this run's fakes may be left (a killed one gets a moment to be reaped).
	var procs []string
	for i := 0; i < 20; i++ {
		if procs = fakesRunning(tmp); len(procs) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(procs) > 0 {
		t.Errorf("QEMU processes left behind: %v", procs)
	}
}

// fakesRunning lists the pids of live fake QEMUs whose working directory is under dir.
func fakesRunning(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || !strings.HasPrefix(cwd, dir) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err == nil && bytes.Contains(cmdline, []byte("-kernel")) && !bytes.Contains(st, []byte(") Z ")) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestFaultBadObservationFiles: a registry edit that only 5.10 contradicts is found from the
// recorded observations; when 5.10's file is cut, empty JSON or foreign, verify and report
// refuse the directory naming the file (exit 2) instead of answering without that kernel,
// unless --skip-bad says to go on without it.
func TestFaultBadObservationFiles(t *testing.T) {
	// ringbuf_output arrived in 5.8: declaring 6.1 is contradicted by 5.10 alone.
	reg := registryWith(t, func(s string) string {
		i := strings.Index(s, "name: ringbuf_output\n")
		j := i + strings.Index(s[i:], `min_kernel: "5.8"`)
		return s[:j] + `min_kernel: "6.1"` + s[j+len(`min_kernel: "5.8"`):]
	})
	dir := t.TempDir()
	copyDir(t, recorded, dir)
	bad := filepath.Join(dir, "5.10.json.gz")
	if code, stdout, stderr := run("verify", "--in", dir, "--registry", reg, "ringbuf_output"); code != exitNo {
		t.Fatalf("intact observations: exit %d, want %d\n%s%s", code, exitNo, stdout, stderr)
	}
	whole, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"cut", whole[:len(whole)/2]},
		{"empty object", gz(t, "{}")},
		{"null", gz(t, "null")},
		{"report file", gz(t, `{"schema":1,"tool":"x","kernels":[]}`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testenv.WriteFile(t, bad, tt.data)
			code, _, stderr := run("verify", "--in", dir, "--registry", reg, "ringbuf_output")
			if code != exitBadArgs || !strings.Contains(stderr, bad) {
				t.Errorf("verify: exit %d, stderr %q; want %d naming %s", code, stderr, exitBadArgs, bad)
			}
			code, _, stderr = run("report", "--in", dir, "--registry", reg, "--out", t.TempDir())
			if code != exitBadArgs || !strings.Contains(stderr, bad) {
				t.Errorf("report: exit %d, stderr %q; want %d naming %s", code, stderr, exitBadArgs, bad)
			}
			code, _, stderr = run("verify", "--in", dir, "--registry", reg, "--skip-bad", "ringbuf_output")
			if code != exitOK || !strings.Contains(stderr, "skipping") {
				t.Errorf("verify --skip-bad: exit %d, stderr %q; want %d and a note on the skipped file", code, stderr, exitOK)
			}
		})
	}
}

// TestFaultVerifyReadOnlyDamagedImage: a read-only cache holds a damaged 5.10 image, and the
// registry is one only 5.10 contradicts. verify --offline must not answer "consistent" from 7.3
// alone: 5.10 is a failed kernel, named with its reason (exit 1), and nothing claims the entry
// was removed.
func TestFaultVerifyReadOnlyDamagedImage(t *testing.T) {
	kfile := namedFakeKernels(t, "5.10", "7.3")
	cache := t.TempDir()
	reg := registryWith(t, func(s string) string {
		i := strings.Index(s, "name: ringbuf_output\n")
		j := i + strings.Index(s[i:], `min_kernel: "5.8"`)
		return s[:j] + `min_kernel: "6.1"` + s[j+len(`min_kernel: "5.8"`):]
	})
	args := []string{"verify", "--kernels-file", kfile, "--cache-dir", cache, "--qemu", os.Args[0], "--accel", "tcg",
		"--retries", "0", "--registry", reg, "--kernels", "5.10,7.3", "ringbuf_output"}
	if code, _, stderr := run(args...); code != exitNo {
		t.Fatalf("healthy cache: exit %d, want %d (5.10 contradicts)\n%s", code, exitNo, stderr)
	}
	images, _ := filepath.Glob(filepath.Join(cache, "images", "*", "vmlinuz"))
	damaged := ""
	for _, p := range images {
		if data, _ := os.ReadFile(p); strings.Contains(string(data), "5.10.0-fake") {
			damaged = p
		}
	}
	if damaged == "" {
		t.Fatalf("no cached 5.10 image among %v", images)
	}
	testenv.WriteFile(t, damaged, []byte("damaged"))
	testenv.NeedRoot(t)
	if out, err := exec.Command("mount", "--bind", cache, cache).CombinedOutput(); err != nil {
		testenv.Need(t, fmt.Errorf("cannot bind-mount: %v: %s", err, out), "run as root where mount works")
	}
	t.Cleanup(func() { exec.Command("umount", cache).Run() })
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", cache).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v: %s", err, out)
	}
	code, stdout, stderr := run(append(args, "--offline")...)
	if code != exitNo {
		t.Errorf("read-only damaged 5.10: exit %d, want %d\n%s%s", code, exitNo, stdout, stderr)
	}
	for _, want := range []string{"kernel 5.10 failed", filepath.Dir(damaged), "could not be removed", "(1 ok)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "has been removed") {
		t.Errorf("stderr claims the read-only entry was removed:\n%s", stderr)
	}
}

// TestFaultVerifyCacheDirSetup: no cache directory to be found (no HOME, no XDG_CACHE_HOME), or
// XDG_CACHE_HOME naming a file, is bad setup (exit 2) and says so, not a contradiction (exit 1)
// or "not cached".
func TestFaultVerifyCacheDirSetup(t *testing.T) {
	kfile := namedFakeKernels(t, "7.3")
	file := testenv.WriteFile(t, filepath.Join(t.TempDir(), "a-file"), nil)
	tests := []struct{ home, xdg, want string }{
		{"", "", "HOME"},
		{"/nonexistent", file, file + " is not a directory"},
	}
	for _, tt := range tests {
		t.Setenv("HOME", tt.home)
		t.Setenv("XDG_CACHE_HOME", tt.xdg)
		for _, cmd := range []string{"verify", "run"} {
			args := []string{cmd, "--offline", "--kernels-file", kfile, "--qemu", os.Args[0], "--accel", "tcg"}
			if cmd == "run" {
				args = append(args, "--out", t.TempDir())
			}
			code, _, stderr := run(args...)
			if code != exitBadArgs || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "not cached") {
				t.Errorf("%s with HOME=%q XDG_CACHE_HOME=%q: exit %d, stderr %q; want %d saying %q", cmd, tt.home, tt.xdg, code, stderr, exitBadArgs, tt.want)
			}
		}
	}
}

// TestFaultGuestFlagBounds: every numeric guest flag is bounded and refused at parse (exit 2),
// before anything is fetched: `--parallel 9999999999` once allocated until the OOM killer came.
func TestFaultGuestFlagBounds(t *testing.T) {
	kfile := namedFakeKernels(t, "7.3")
	for _, flagArgs := range [][]string{
		{"--parallel", "9999999999"},
		{"--cpus", "100000"},
		{"--memory", "99999999999"},
		{"--retries", "1000000"},
		{"--retries", "-1"},
		{"--timeout", "100000h"},
	} {
		for _, cmd := range []string{"run", "verify"} {
			args := append([]string{cmd, "--kernels-file", kfile, "--qemu", os.Args[0], "--accel", "tcg", "--cache-dir", t.TempDir()}, flagArgs...)
			if cmd == "run" {
				args = append(args, "--out", t.TempDir())
			}
			start := time.Now()
			code, _, stderr := run(args...)
			if code != exitBadArgs || !strings.Contains(stderr, flagArgs[0]+" "+flagArgs[1]) || time.Since(start) > 5*time.Second {
				t.Errorf("%s %v: exit %d after %v, stderr %q; want %d at parse naming the flag", cmd, flagArgs, code, time.Since(start), stderr, exitBadArgs)
			}
		}
	}
}

// TestFaultAccelKVMUnusable: --accel kvm where KVM cannot run guests is refused at parse (exit
// 2), saying why, instead of waiting out the timeout twice.
func TestFaultAccelKVMUnusable(t *testing.T) {
	why := harness.CheckAccel("kvm")
	if why == nil {
		t.Skip("KVM works on this machine: nothing to refuse")
	}
	kfile := namedFakeKernels(t, "7.3")
	start := time.Now()
	code, _, stderr := run("run", "--kernels-file", kfile, "--qemu", os.Args[0], "--accel", "kvm", "--timeout", "10s",
		"--cache-dir", t.TempDir(), "--out", t.TempDir())
	var se *harness.SettingError
	errors.As(why, &se)
	if code != exitBadArgs || !strings.Contains(stderr, "--accel kvm") || !strings.Contains(stderr, se.Want) || time.Since(start) > 5*time.Second {
		t.Errorf("exit %d after %v, stderr %q; want %d saying %q", code, time.Since(start), stderr, exitBadArgs, se.Want)
	}
}

// hostile makes in a new temporary directory the files no command may write over or read: a
// device like /dev/null ("null"), one like /dev/zero ("zero"), a link to the first
// ("link-null", as /proc/self/fd/1 is a link to a terminal), a link to the second
// ("link-zero") and a FIFO ("fifo"). It returns the directory.
func hostile(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	testenv.Nodes(t, dir, "null", "zero", "link-null", "link-zero", "fifo")
	return dir
}

// modes records the type of every entry of dir, to see that a command changed none.
func modes(t *testing.T, dir string) map[string]os.FileMode {
	t.Helper()
	m := map[string]os.FileMode{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		m[e.Name()] = e.Type()
	}
	return m
}

// runSoon runs the command in-process and fails the test when it has not returned within 10 s
// (a FIFO blocks a reader, /dev/zero never ends one).
func runSoon(t *testing.T, args ...string) (code int, stderr string) {
	t.Helper()
	testenv.Within(t, fmt.Sprintf("%q", args), 10*time.Second, func() error {
		code, _, stderr = run(args...)
		return nil
	})
	return code, stderr
}

// TestFaultWriteOverNodes: every command that writes refuses (exit 2, naming the path and what
// it is) an output path that is a device, a FIFO or a link to one, and leaves it as it was.
// `helpers export --out` once replaced such a node with a 318 KB regular file and exited 0: as
// root, --out /dev/null destroyed /dev/null.
func TestFaultWriteOverNodes(t *testing.T) {
	dir := hostile(t)
	obs := syncObservations(t, "6.12 6.12.118 ok supported supported")
	reg := writeTemp(t, "helpers.yaml", syncRegistry)
	kfile := fakeKernels(t, fakeqemu.Replay)
	// Output directories holding a FIFO where a command would write one of its files.
	runOut, reportOut := t.TempDir(), t.TempDir()
	for _, p := range []string{filepath.Join(runOut, fakeqemu.Replay+".json"), filepath.Join(reportOut, "report.md")} {
		testenv.FIFO(t, p)
	}
	before := modes(t, dir)
	type cmd struct {
		name string
		args func(node string) []string
	}
	for _, c := range []cmd{
		{"helpers export", func(n string) []string { return []string{"helpers", "export", "--out", n} }},
		{"helpers sync --write", func(n string) []string {
			return []string{"helpers", "sync", "--in", obs, "--registry", n, "--write"}
		}},
		{"kfuncs sync --write", func(n string) []string {
			return []string{"kfuncs", "sync", "--in", recordedObservations, "--kfuncs", n, "--write"}
		}},
		{"report --out", func(n string) []string { return []string{"report", "--in", obs, "--registry", reg, "--out", n} }},
		{"run --out", func(n string) []string {
			return []string{"run", "--kernels-file", kfile, "--qemu", os.Args[0], "--cache-dir", t.TempDir(), "--out", n}
		}},
		{"verify --out", func(n string) []string {
			return []string{"verify", "--kernels-file", kfile, "--qemu", os.Args[0], "--cache-dir", t.TempDir(), "--registry", reg, "--out", n}
		}},
	} {
		for _, node := range []string{"null", "link-null", "fifo"} {
			t.Run(c.name+" "+node, func(t *testing.T) {
				path := filepath.Join(dir, node)
				code, stderr := runSoon(t, c.args(path)...)
				if code != exitBadArgs || !strings.Contains(stderr, path+": not a ") {
					t.Errorf("exit %d, want %d with a message naming %s and what it is\n%s", code, exitBadArgs, path, stderr)
				}
			})
		}
	}
	if after := modes(t, dir); len(after) != len(before) {
		t.Errorf("entries %v, were %v", after, before)
	} else {
		for name, m := range before {
			if after[name] != m {
				t.Errorf("%s is now %v, was %v", name, after[name], m)
			}
		}
	}
	// A file a command writes into its output directory.
	for _, tt := range []struct {
		name, path string
		args       []string
	}{
		{"run --out DIR", filepath.Join(runOut, fakeqemu.Replay+".json"), []string{"run", "--kernels-file", kfile, "--qemu", os.Args[0], "--cache-dir", t.TempDir(), "--out", runOut}},
		{"report --out DIR", filepath.Join(reportOut, "report.md"), []string{"report", "--in", obs, "--registry", reg, "--out", reportOut}},
	} {
		code, stderr := runSoon(t, tt.args...)
		if code != exitBadArgs || !strings.Contains(stderr, tt.path+": not a regular file (a named pipe)") {
			t.Errorf("%s: exit %d, want %d naming %s\n%s", tt.name, code, exitBadArgs, tt.path, stderr)
		}
	}
	if left, _ := os.ReadDir(reportOut); len(left) != 1 {
		t.Errorf("report --out wrote %d files beside the FIFO", len(left)-1)
	}
}

// TestFaultReadNodes: every file a command reads is refused at once (exit 2, naming it and what
// it is) when it is a device, a FIFO or a link to one: a kernels file linked to /dev/zero grew
// memory until the runtime died, one that is a FIFO blocked until Ctrl-C, and a kernel whose
// `path:` is /dev/zero made verify spin for ten minutes.
func TestFaultReadNodes(t *testing.T) {
	dir := hostile(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	zeroKernels := writeTemp(t, "kernels.yaml", "kernels:\n  - name: zero\n    path: "+filepath.Join(dir, "zero")+"\n")
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"kernels file linked to a device", []string{"verify", "--kernels-file", filepath.Join(dir, "link-zero")}, "link-zero: not a regular file (a character device)"},
		{"kernels file a FIFO", []string{"verify", "--kernels-file", filepath.Join(dir, "fifo")}, "fifo: not a regular file (a named pipe)"},
		{"registry a FIFO", []string{"verify", "--registry", filepath.Join(dir, "fifo")}, "fifo: not a regular file (a named pipe)"},
		{"kfuncs linked to a device", []string{"verify", "--kfuncs", filepath.Join(dir, "link-zero")}, "link-zero: not a regular file (a character device)"},
		{"kernel image a device", []string{"verify", "--kernels-file", zeroKernels, "--qemu", os.Args[0]},
			"kernel zero (" + zeroKernels + ":2): image: " + filepath.Join(dir, "zero") + ": not a regular file (a character device)"},
		{"kernel image a device, fetched", []string{"kernels", "fetch", "--kernels-file", zeroKernels},
			"kernel zero (" + zeroKernels + ":2): image: " + filepath.Join(dir, "zero") + ": not a regular file (a character device)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := runSoon(t, tt.args...)
			if code != exitBadArgs || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want %d saying %q\n%s", code, exitBadArgs, tt.want, stderr)
			}
		})
	}
}

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
		{[]string{"kfuncs", "compat", "bpf_session_cookie", "kprobe", "7.3"}, exitNo, "bpf_session_cookie is not callable from kprobe, although kprobe programs attached elsewhere may call it", "", "(declared: )"},
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
