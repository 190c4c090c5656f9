// Package wiretest writes, for tests, the result stream a guest agent would send, so that the
// fake QEMU (internal/fakeqemu) can replay it: the tests of the harness, of observe and of the
// command that run `bpfmatrix load` through a fake guest all need the same stream.
package wiretest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// release is the uname release the stream's hello and header name: a 7.3 guest's.
const release = "7.3.4+deb13-cloud-amd64"

// ReplayLoads writes, as a load-mode agent on a 7.3 guest would, a complete stream answering
// loads to a file of t's own, and points the fake QEMU at it (fakeqemu.EnvStream) for the rest
// of t.
func ReplayLoads(t testing.TB, loads ...observation.ProgramLoad) {
	t.Helper()
	var buf bytes.Buffer
	w := wire.NewWriter(&buf, false)
	if err := w.Hello(wire.Hello{Uptime: 1.5, Kernel: release}); err != nil {
		t.Fatal(err)
	}
	if err := w.Header(observation.Facts{Kernel: observation.KernelInfo{Release: release, Version: "7.3.4"}}); err != nil {
		t.Fatal(err)
	}
	for _, l := range loads {
		if err := w.Result(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "load.stream")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeqemu.EnvStream, p)
}
