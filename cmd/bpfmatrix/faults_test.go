package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
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
		if err := os.WriteFile(filepath.Join(dir, m+".img"), fakeBzImage("7.3.4-fake-"+m), 0o644); err != nil {
			t.Fatal(err)
		}
		y.WriteString("  - name: " + m + "\n    path: " + m + ".img\n")
	}
	kfile := filepath.Join(dir, "kernels.yaml")
	if err := os.WriteFile(kfile, []byte(y.String()), 0o644); err != nil {
		t.Fatal(err)
	}
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
	if d := readDoc(t, filepath.Join(out, "replay.json")); !d.OK() || len(d.Results) != 4426 {
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
	if d := readDoc(t, filepath.Join(out, "replay.json")); !d.OK() || len(d.Results) != 4426 {
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
			if err := os.WriteFile(bad, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
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

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		src, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(to, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(dst, src)
		src.Close()
		dst.Close()
	}
}

// fakeBzImage is a file with just the x86 boot protocol header naming release: what the
// kernels file's loader checks of a local image (the fake QEMU boots nothing).
func fakeBzImage(release string) []byte {
	buf := make([]byte, 0x1000)
	copy(buf[0x202:], "HdrS")
	const verOff = 0x300 // from 0x200
	buf[0x20e], buf[0x20f] = verOff&0xff, verOff>>8
	copy(buf[0x200+verOff:], release+" (test@example.org) #1 SMP\x00")
	return buf
}
