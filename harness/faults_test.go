package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/internal/tempdir"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// fakeConfig runs this test binary as QEMU, in the given fake mode, replaying the stream a
// real 7.3 guest sent (observe/testdata/guest-7.3).
func fakeConfig(t *testing.T, mode string) (Config, Kernel) {
	t.Helper()
	rec, err := filepath.Abs(filepath.Join("..", "observe", "testdata", "guest-7.3"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeqemu.EnvMode, mode)
	t.Setenv(fakeqemu.EnvStream, filepath.Join(rec, "results.stream"))
	cfg := DefaultConfig()
	cfg.QEMU, cfg.Accel, cfg.Parallel = os.Args[0], "tcg", 1
	cfg.Agent = filepath.Join(rec, "config") // any file: the fake boots nothing
	cfg.WorkDir = t.TempDir()
	cfg.Retries = 0
	return cfg, Kernel{Name: "fake", Path: filepath.Join(rec, "results.stream"), Image: observation.Image{Version: "7.3.4"}}
}

// TestFaultQEMU: QEMU or its guest misbehaves; each is a failed kernel whose error names what
// happened, results already received are kept, and nothing is left behind.
func TestFaultQEMU(t *testing.T) {
	tests := []struct {
		mode    string
		timeout time.Duration
		want    []string
		results bool // results received before the fault are kept
		within  time.Duration
	}{
		{fakeqemu.ExitSilent, time.Minute, []string{"qemu exited before the guest sent anything: exit status 1", "nothing on stderr"}, false, 10 * time.Second},
		{fakeqemu.ExitError, time.Minute, []string{"qemu exited before the guest sent anything", fakeqemu.ErrorText}, false, 10 * time.Second},
		{fakeqemu.Cut, time.Minute, []string{"result stream truncated after"}, true, 10 * time.Second},
		{fakeqemu.Hang, 3 * time.Second, []string{"did not finish within 3s", "QEMU status running"}, false, 15 * time.Second},
		// A guest that stops running fails at once, not at its timeout.
		{fakeqemu.Stopped, time.Minute, []string{"guest stopped running: QEMU run state internal-error"}, false, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cfg, k := fakeConfig(t, tt.mode)
			cfg.Timeout = tt.timeout
			start := time.Now()
			results := testenv.Must(Run(context.Background(), cfg, []Kernel{k}, nil))(t)
			r := results[0]
			if r.OK() {
				t.Fatal("a misbehaving QEMU gave an ok kernel")
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Doc.Guest.Error, w) {
					t.Errorf("error %q does not say %q", r.Doc.Guest.Error, w)
				}
			}
			if strings.Contains(r.Doc.Guest.Error, "use of closed network connection") {
				t.Errorf("error %q blames the socket instead of QEMU", r.Doc.Guest.Error)
			}
			if got := len(r.Doc.Results) > 0; got != tt.results {
				t.Errorf("results kept: %v, want %v", got, tt.results)
			}
			if d := time.Since(start); d > tt.within {
				t.Errorf("took %v, want under %v", d, tt.within)
			}
			assertEmpty(t, cfg.WorkDir)
		})
	}
}

// TestFaultKVMCannotRun: KVM that creates VMs but cannot run them (nested virtualization)
// fails the first guest at once; the run says so once and boots every kernel under TCG, and
// the fallback is not counted as a failed attempt.
func TestFaultKVMCannotRun(t *testing.T) {
	cfg, k := fakeConfig(t, fakeqemu.KVMBroken)
	var notices []string
	var mu sync.Mutex
	cfg.Notice = func(s string) { mu.Lock(); notices = append(notices, s); mu.Unlock() }
	initrd := filepath.Join(cfg.WorkDir, "initrd")
	if err := (&Initramfs{Files: []File{{Name: "/init", Source: cfg.Agent, Mode: 0o755}}}).WriteFile(initrd); err != nil {
		t.Fatal(err)
	}
	acc := &accelerator{accel: "kvm", log: cfg.Notice}
	start := time.Now()
	for i := 0; i < 2; i++ {
		res, err := bootWithRetries(context.Background(), &cfg, &k, acc, initrd, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() || res.Doc.Guest.Accel != "tcg" || len(res.Doc.Guest.FailedAttempts) != 0 {
			t.Fatalf("kernel %d: status %s accel %s error %q failed attempts %d", i, res.Doc.Guest.Status, res.Doc.Guest.Accel, res.Doc.Guest.Error, len(res.Doc.Guest.FailedAttempts))
		}
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "KVM cannot run guests") {
		t.Errorf("notices %q: want one saying KVM cannot run guests", notices)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v: the broken KVM guest was not failed at once", d)
	}
}

// TestFaultRetryKeepsAttempts: a kernel that fails on every boot is reported once, on its
// last attempt, and that report (the "done" event whoever writes files listens to) already
// holds the earlier failure.
func TestFaultRetryKeepsAttempts(t *testing.T) {
	cfg, k := fakeConfig(t, fakeqemu.Cut)
	cfg.Retries = 1
	var done []*Result
	var phases []string
	_, err := Run(context.Background(), cfg, []Kernel{k}, func(e Event) {
		phases = append(phases, e.Phase)
		if e.Phase == "done" {
			done = append(done, e.Result)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 {
		t.Fatalf("%d done events (phases %v), want 1", len(done), phases)
	}
	if n := len(done[0].Doc.Guest.FailedAttempts); n != 1 {
		t.Fatalf("the done event carries %d failed attempts, want 1 (phases %v)", n, phases)
	}
}

// TestFaultGuestLimits: every number of a Config is bounded, at both ends; Run refuses a value
// out of bounds before it starts anything (9999999999 guests once ran into the OOM killer).
func TestFaultGuestLimits(t *testing.T) {
	tests := []struct {
		set     func(*Config)
		setting string
	}{
		{func(c *Config) { c.Parallel = 9999999999 }, "parallel"},
		{func(c *Config) { c.Parallel = 0 }, "parallel"},
		{func(c *Config) { c.CPUs = MaxCPUs + 1 }, "cpus"},
		{func(c *Config) { c.CPUs = -1 }, "cpus"},
		{func(c *Config) { c.MemoryMB = MinMemoryMB - 1 }, "memory"},
		{func(c *Config) { c.MemoryMB = 1 << 40 }, "memory"},
		{func(c *Config) { c.Retries = -1 }, "retries"},
		{func(c *Config) { c.Retries = 1 << 31 }, "retries"},
		{func(c *Config) { c.Timeout = 0 }, "timeout"},
		{func(c *Config) { c.Timeout = 1 << 62 }, "timeout"},
		{func(c *Config) { c.TCGThread = "many" }, "tcg-thread"},
		{func(c *Config) { c.Channel = "pigeon" }, "channel"},
		{func(c *Config) { c.Accel = "hvf" }, "accel"},
	}
	for _, tt := range tests {
		cfg, k := fakeConfig(t, fakeqemu.Replay)
		tt.set(&cfg)
		var se *SettingError
		if err := cfg.Check(); !errors.As(err, &se) || se.Setting != tt.setting {
			t.Errorf("%s: Check = %v, want a %s error", tt.setting, err, tt.setting)
		}
		if _, err := Run(context.Background(), cfg, []Kernel{k}, nil); !errors.As(err, &se) {
			t.Errorf("%s: Run = %v, want it refused", tt.setting, err)
		}
	}
	cfg, _ := fakeConfig(t, fakeqemu.Replay)
	if err := cfg.Check(); err != nil {
		t.Errorf("the fake's config: %v", err)
	}
}

// TestFaultAccelUnusable: KVM asked for where it cannot work is refused, saying why: a CPU
// without vmx or svm, no /dev/kvm, and a /dev/kvm that is no KVM device (a node made with mknod:
// /dev/null's numbers).
func TestFaultAccelUnusable(t *testing.T) {
	dir := t.TempDir()
	noVirt, virt := filepath.Join(dir, "cpuinfo-novirt"), filepath.Join(dir, "cpuinfo-vmx")
	testenv.WriteFile(t, noVirt, []byte("processor\t: 0\nflags\t\t: fpu sse2 avx\n"))
	testenv.WriteFile(t, virt, []byte("processor\t: 0\nflags\t\t: fpu vmx sse2\n"))
	notKVM := filepath.Join(dir, "kvm")
	testenv.CharDevice(t, notKVM, testenv.DevNull)
	tests := []struct {
		cpuinfo, kvm string
		want         string
	}{
		{noVirt, notKVM, "no vmx or svm flag"},
		{virt, filepath.Join(dir, "missing"), "KVM is not available"},
		{virt, notKVM, "cannot create a virtual machine"},
	}
	defer func(c, k string) { cpuinfoPath, kvmPath = c, k }(cpuinfoPath, kvmPath)
	for _, tt := range tests {
		cpuinfoPath, kvmPath = tt.cpuinfo, tt.kvm
		err := CheckAccel("kvm")
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "--accel tcg") {
			t.Errorf("%s, %s: %v, want it to say %q", tt.cpuinfo, tt.kvm, err, tt.want)
		}
		if DetectAccel() != "tcg" {
			t.Errorf("%s, %s: DetectAccel picks kvm", tt.cpuinfo, tt.kvm)
		}
		if err := CheckAccel("tcg"); err != nil {
			t.Errorf("tcg refused: %v", err)
		}
	}
}

// TestFaultRunSweepsKilledRun: the directory of a run killed with SIGKILL (its lock is free) is
// removed by the next run; that of a run still going, and a directory that is not ours, stay.
func TestFaultRunSweepsKilledRun(t *testing.T) {
	cfg, k := fakeConfig(t, fakeqemu.Replay)
	dead, err := os.MkdirTemp(cfg.WorkDir, RunDirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{tempdir.LockName, "initrd"} {
		testenv.WriteFile(t, filepath.Join(dead, f), []byte("x"))
	}
	live, err := tempdir.New(cfg.WorkDir, RunDirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Remove()
	theirs := filepath.Join(cfg.WorkDir, RunDirPrefix+"theirs")
	if err := os.Mkdir(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = time.Minute
	if _, err := Run(context.Background(), cfg, []Kernel{k}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the killed run's directory stayed (%v)", err)
	}
	for _, keep := range []string{live.Path, theirs} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s was removed: %v", keep, err)
		}
	}
}
