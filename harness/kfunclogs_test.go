package harness

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// goldenKfuncLog is the file name a capture guest may give a golden log.
var goldenKfuncLog = regexp.MustCompile(`^kfunc-[a-z0-9-]+\.log$`)

// TestCaptureGuestKfuncLogs boots every kernel of kernels.yaml with package probe's test binary
// as init (see probe/kfunc_guest_test.go): each guest loads probe's kfuncCaptureCases the way
// TestCaptureKfuncLogs does on the host and sends the logs back, which this test writes into
// probe/testdata/verifier-logs/<kernel>/. It runs only when BPFMATRIX_CAPTURE_LOGS is set, and
// BPFMATRIX_CAPTURE_KERNELS (comma-separated) picks some of the kernels:
//
//	BPFMATRIX_CAPTURE_LOGS=1 go test ./harness -run TestCaptureGuestKfuncLogs -timeout 30m
//
// Nothing is cached: the guests run no agent, and their results are not observations.
func TestCaptureGuestKfuncLogs(t *testing.T) {
	testenv.NeedCaptureLogs(t, "probe/testdata/verifier-logs/<kernel>/kfunc-*")
	cfg := DefaultConfig()
	cfg.QEMU = needQEMU(t)
	cfg.WorkDir = t.TempDir()
	cfg.Agent = buildProbeTest(t)
	kernels := allKernels(t)
	if s := os.Getenv("BPFMATRIX_CAPTURE_KERNELS"); s != "" {
		kernels = testKernels(t, strings.Split(s, ",")...)
	}
	results, err := Run(context.Background(), cfg, kernels, func(e Event) {
		if e.Phase != "probe" {
			t.Logf("%s: %s %.1fs", e.Kernel, e.Phase, e.Elapsed.Seconds())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.OK() {
			t.Errorf("%s: %s\n%s", r.Kernel.Name, r.Doc.Guest.Error, r.Doc.Guest.ConsoleTail)
			continue
		}
		// The cases a kernel leaves out are on its console.
		for line := range strings.Lines(r.Doc.Guest.ConsoleTail) {
			if _, note, ok := strings.Cut(line, "capture: left out "); ok {
				t.Logf("%s: left out %s", r.Kernel.Name, strings.TrimSpace(note))
			}
		}
		dir := filepath.Join("..", "probe", "testdata", "verifier-logs", r.Kernel.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, res := range r.Doc.Results {
			if !goldenKfuncLog.MatchString(res.Detail) {
				t.Errorf("%s: a result names no golden log: %+v", r.Kernel.Name, res)
				continue
			}
			testenv.WriteFile(t, filepath.Join(dir, res.Detail), []byte(res.Log))
			t.Logf("%s/%s: %s/%s %s %s [%s]", r.Kernel.Name, res.Detail, res.ProgType, res.Variant, res.Kfunc, res.Outcome, res.Flags)
		}
	}
}

// buildProbeTest builds package probe's test binary, statically, to be a guest's init.
func buildProbeTest(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "probe.test")
	cmd := exec.Command("go", "test", "-c", "-trimpath", "-ldflags=-s -w", "-o", out, "./probe")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go test -c ./probe: %v\n%s", err, stderr.String())
	}
	return out
}
