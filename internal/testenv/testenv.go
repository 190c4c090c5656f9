// Package testenv holds the gates of tests that need something of the machine: root, QEMU, a
// browser, a tool. Outside CI a missing need skips the test with the command that provides it;
// under CI (the environment variable CI set to any non-empty value, as .ci/run sets it) it fails
// the test, so that a CI machine that lacks it cannot pass without testing anything.
//
// It also holds what the tests of many packages would otherwise each write again: device nodes,
// FIFOs and sockets made in a temporary directory (never the machine's own), a watchdog for
// calls that may hang, the checks of a table case's wanted error, and made-up kernel BTF.
package testenv

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// InCI reports whether the tests run under CI.
func InCI() bool { return os.Getenv("CI") != "" }

// EnvNetwork names the environment variable that lets tests reach the network: set to any
// non-empty value (.ci/run sets it), the real-archive test runs, and tests that read the images
// of the kernels CI boots (5.10 and 7.3) fetch them into the cache when they are missing.
// Unset, no test reaches the network or writes into the user's cache.
const EnvNetwork = "BPFMATRIX_TEST_NETWORK"

// Network reports whether EnvNetwork lets tests reach the network.
func Network() bool { return os.Getenv(EnvNetwork) != "" }

// NeedNetwork skips t unless EnvNetwork is set, under CI too: a test reaches the network only
// when asked, and CI asks by setting it.
func NeedNetwork(t testing.TB) {
	t.Helper()
	if !Network() {
		t.Skipf("this test reaches the network; set %s=1 to run it", EnvNetwork)
	}
}

// EnvCaptureLogs names the environment variable that asks the capture tests to rewrite the
// golden verifier logs (probe/testdata/verifier-logs) from the kernels they run on.
const EnvCaptureLogs = "BPFMATRIX_CAPTURE_LOGS"

// NeedCaptureLogs skips t unless EnvCaptureLogs is set, under CI too: a capture test rewrites
// checked-in golden logs (what names them) and runs only when a person asks.
func NeedCaptureLogs(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(EnvCaptureLogs) == "" {
		t.Skipf("set %s=1 to rewrite %s", EnvCaptureLogs, what)
	}
}

// Optional skips t when err (why an optional input is missing) is not nil, under CI as well:
// for inputs CI does not provide by design, such as the images of kernels it does not boot.
// Inputs CI must provide go through Need.
func Optional(t testing.TB, err error, how string) {
	t.Helper()
	if err != nil {
		t.Skipf("%v (%s; CI does not provide it)", err, how)
	}
}

// Need skips t, or fails it under CI, when err (why the need is not met) is not nil; how says
// how to meet it.
func Need(t testing.TB, err error, how string) {
	t.Helper()
	if err == nil {
		return
	}
	if InCI() {
		t.Fatalf("CI is set but this test cannot run: %v (%s)", err, how)
	}
	t.Skipf("%v (%s; with CI set this is a failure)", err, how)
}

// NeedRoot gates a test that loads BPF programs, mounts file systems or otherwise needs root.
func NeedRoot(t testing.TB) {
	t.Helper()
	var err error
	if os.Geteuid() != 0 {
		err = errNotRoot
	}
	Need(t, err, "run the tests as root, as .ci/run does")
}

// NeedCommand gates a test on a command in PATH and returns its path; pkg names the Debian
// package that installs it.
func NeedCommand(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Need(t, err, "apt-get install "+pkg)
	return p
}

// NeedQEMU gates a test that boots guests and returns qemu-system-x86_64's path.
func NeedQEMU(t testing.TB) string {
	t.Helper()
	return NeedCommand(t, "qemu-system-x86_64", "qemu-system-x86")
}

type notRoot struct{}

func (notRoot) Error() string { return "not running as root" }

var errNotRoot error = notRoot{}

// Must returns a function that gives v, failing the test with err when err is not nil: the
// setup of a fixture a test cannot go on without, written as
// reg := testenv.Must(registry.Load(path))(t).
func Must[T any](v T, err error) func(t testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// WriteFile writes data to path, failing t when it cannot, and returns path: the setup of an input
// file a test cannot go on without, written as testenv.WriteFile(t, path, data).
func WriteFile(t testing.TB, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// WantErr checks the error of one case of a table-driven test: want is a part of the message the
// error must have, or "" for no error, and a mismatch either way fails t at once. It reports
// whether an error was wanted (and came), which ends the case: if testenv.WantErr(...) { return }.
func WantErr(t testing.TB, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want one containing %q", err, want)
	}
	return true
}

// WantErrIs is WantErr for a case that wants an error of a kind, matched with errors.Is (nil for
// no error).
func WantErrIs(t testing.TB, err, want error) bool {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	return true
}

// EnvARM64Kernel names the environment variable that gives the tests of arm64 guests a kernel
// image of their own: the path of an arm64 vmlinuz (Debian's linux-image-*-cloud-arm64 unpacked,
// its boot/config-* beside it). Unset, those tests use kernels.yaml's arm64 6.12 from the image
// cache, fetched when Network allows.
const EnvARM64Kernel = "BPFMATRIX_TEST_ARM64_KERNEL"

// ARM64KernelPath returns the image EnvARM64Kernel names, "" when it is unset; a path given that
// is not there fails t.
func ARM64KernelPath(t testing.TB) string {
	t.Helper()
	image := os.Getenv(EnvARM64Kernel)
	if image != "" {
		if _, err := os.Stat(image); err != nil {
			t.Fatalf("%s: %v", EnvARM64Kernel, err)
		}
	}
	return image
}
