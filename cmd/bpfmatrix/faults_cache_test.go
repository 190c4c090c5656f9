package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// namedFakeKernels writes a kernels.yaml of local images named as given, each a healthy guest
// of the fake QEMU (replaying a real 7.3 guest's stream).
func namedFakeKernels(t *testing.T, names ...string) string {
	t.Helper()
	kfile := fakeKernels(t) // sets the fake's mode and stream
	var y strings.Builder
	y.WriteString("kernels:\n")
	for _, n := range names {
		img := filepath.Join(filepath.Dir(kfile), n+".img")
		if err := os.WriteFile(img, fakeBzImage(n+".0-fake-"+fakeqemu.Replay), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&y, "  - name: %q\n    path: %s.img\n", n, n)
	}
	if err := os.WriteFile(kfile, []byte(y.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return kfile
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
	if err := os.WriteFile(damaged, []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
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
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
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
