package observe

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// BenchmarkMatrix is the full run `make bench` reports: every kernel of kernels.yaml through
// the pipeline the commands use, images from the cache (fetched when missing), observations
// not taken from the cache, the default guest configuration; first with helpers alone, then
// with kfuncs too, so that the cost of the kfunc pass is measured in the same run. It prints
// the wall time and each kernel's boot and probe seconds.
func BenchmarkMatrix(b *testing.B) {
	hcfg := harness.DefaultConfig()
	hcfg.QEMU = testenv.NeedQEMU(b)
	for i := 0; i < b.N; i++ {
		helpersOnly := hcfg
		helpersOnly.Kfuncs = []string{wire.NoKfuncs}
		base, baseCPU := runMatrix(b, "helpers only", helpersOnly)
		full, fullCPU := runMatrix(b, "helpers and kfuncs", hcfg)
		fmt.Printf("matrix: kfuncs add %.0f%% to the helper-only wall time (%.1fs -> %.1fs) and %.0f%% to the guests' CPU time (%.1fs -> %.1fs)\n",
			100*(full/base-1), base, full, 100*(fullCPU/baseCPU-1), baseCPU, fullCPU)
		b.ReportMetric(full, "wall-s")
		b.ReportMetric(base, "helpers-only-wall-s")
	}
}

// runMatrix observes every kernel once with hcfg and prints the figures; it returns the wall
// time and the guests' CPU time (QEMU's user and system time, summed), in seconds. The CPU time
// is the fairer comparison on a machine that runs other work meanwhile.
func runMatrix(b *testing.B, what string, hcfg harness.Config) (wall, cpu float64) {
	start := time.Now()
	obs, err := Run(context.Background(), Options{
		KernelsFile: filepath.Join("..", "kernels.yaml"),
		Refresh:     true,
		Harness:     hcfg,
	})
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	var sb strings.Builder
	fmt.Fprintf(&sb, "matrix (%s): %d kernels, %d guests at a time with %d vCPU(s): wall %.1fs\n", what, len(obs), hcfg.Parallel, hcfg.CPUs, elapsed.Seconds())
	fmt.Fprintf(&sb, "  %-8s %-6s %-4s %8s %8s %8s %8s %10s\n", "kernel", "status", "acc", "boot s", "probe s", "cpu s", "results", "stream B")
	failed := 0
	for _, o := range obs {
		g := o.Doc.Guest
		fmt.Fprintf(&sb, "  %-8s %-6s %-4s %8.2f %8.2f %8.2f %8d %10d\n", o.Name, g.Status, g.Accel, g.BootSeconds, g.ProbeSeconds, g.CPUSeconds, len(o.Doc.Results), g.StreamBytes)
		cpu += g.CPUSeconds
		if o.Failed {
			failed++
			fmt.Fprintf(&sb, "    error: %s\n", g.Error)
		}
	}
	fmt.Fprintf(&sb, "  guests' CPU time: %.1fs\n", cpu)
	// Printed, not logged: `make bench` shows it whether or not the benchmark fails.
	fmt.Print(sb.String())
	if failed > 0 {
		b.Errorf("%d kernels failed", failed)
	}
	return elapsed.Seconds(), cpu
}
