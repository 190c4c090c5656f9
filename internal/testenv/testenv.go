// Package testenv holds the gates of tests that need something of the machine: root, QEMU, a
// browser, a tool. Outside CI a missing need skips the test with the command that provides it;
// under CI (the environment variable CI set to any non-empty value, as .ci/run sets it) it fails
// the test, so that a CI machine that lacks it cannot pass without testing anything.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI.
func InCI() bool { return os.Getenv("CI") != "" }

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
