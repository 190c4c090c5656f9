package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/internal/tempdir"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

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
	if err := os.WriteFile(noVirt, []byte("processor\t: 0\nflags\t\t: fpu sse2 avx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(virt, []byte("processor\t: 0\nflags\t\t: fpu vmx sse2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
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
		if err := os.WriteFile(filepath.Join(dead, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
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
