package observe

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// BenchmarkMatrix is the full run `make bench` reports: every kernel of kernels.yaml through
// the pipeline the commands use, images from the cache (fetched when missing), observations
// not taken from the cache, the default guest configuration. It prints the wall time and each
// kernel's boot and probe seconds.
func BenchmarkMatrix(b *testing.B) {
	hcfg := harness.DefaultConfig()
	hcfg.QEMU = testenv.NeedQEMU(b)
	for i := 0; i < b.N; i++ {
		start := time.Now()
		obs, err := Run(context.Background(), Options{
			KernelsFile: filepath.Join("..", "kernels.yaml"),
			Refresh:     true,
			Harness:     hcfg,
		})
		if err != nil {
			b.Fatal(err)
		}
		wall := time.Since(start)
		var sb strings.Builder
		fmt.Fprintf(&sb, "matrix: %d kernels, %d guests at a time with %d vCPU(s): wall %.1fs\n", len(obs), hcfg.Parallel, hcfg.CPUs, wall.Seconds())
		fmt.Fprintf(&sb, "  %-8s %-6s %-4s %8s %8s %8s %10s\n", "kernel", "status", "acc", "boot s", "probe s", "results", "stream B")
		var boot, probe float64
		failed := 0
		for _, o := range obs {
			g := o.Doc.Guest
			fmt.Fprintf(&sb, "  %-8s %-6s %-4s %8.2f %8.2f %8d %10d\n", o.Name, g.Status, g.Accel, g.BootSeconds, g.ProbeSeconds, len(o.Doc.Results), g.StreamBytes)
			boot += g.BootSeconds
			probe += g.ProbeSeconds
			if o.Failed {
				failed++
				fmt.Fprintf(&sb, "    error: %s\n", g.Error)
			}
		}
		// Printed, not logged: `make bench` shows it whether or not the benchmark fails.
		fmt.Print(sb.String())
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(boot/float64(len(obs)), "boot-s/kernel")
		b.ReportMetric(probe/float64(len(obs)), "probe-s/kernel")
		if failed > 0 {
			b.Errorf("%d kernels failed", failed)
		}
	}
}
