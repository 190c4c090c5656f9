package hostkernel

import (
	"os"
	"strings"
	"testing"
)

// The release must be the one the kernel gives every other reader: /proc/sys/kernel/osrelease.
func TestReleaseMatchesProc(t *testing.T) {
	want, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	got, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	if got != strings.TrimSpace(string(want)) {
		t.Errorf("Release() = %q, /proc/sys/kernel/osrelease says %q", got, strings.TrimSpace(string(want)))
	}
}
