package probe_test

import (
	"context"
	"os"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/harness/guest"
	"github.com/bpfmatrix/bpfmatrix/probe"
)

// TestMain lets this test binary be a bpfmatrix guest's init: TestCaptureGuestKfuncLogs (package
// harness) boots the kernels of kernels.yaml with it, and each guest captures the kfunc logs that
// TestCaptureKfuncLogs captures on the host, with the same loads. The loads need the probe's
// unexported loader, which only probe's own test binary links, and the guest side of the harness
// imports probe, so only this external test package can join the two. Run any other way, the
// binary runs its tests as usual.
func TestMain(m *testing.M) {
	if guest.IsInit() {
		guest.Main(func(_ context.Context, _ guest.Options, header, result func(any) error) error {
			return probe.CaptureKfuncLogsInGuest(header, result)
		})
	}
	os.Exit(m.Run())
}
