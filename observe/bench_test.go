package observe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// BenchmarkMatrix is the full run `make bench` reports: every kernel of kernels.yaml through
// the pipeline the commands use, images from the cache (fetched when missing), observations
// not taken from the cache, the default guest configuration; first with helpers alone, then
// with kfuncs too, so that the cost of the kfunc pass is measured in the same run. It prints
// the wall time and each kernel's boot and probe seconds, and three ratios for the kfuncs:
// wall time and the guests' CPU time of the two runs, and, within the run with kfuncs, the
// kfunc passes' seconds against the rest of the guests' time. The last one compares work done
// under the same host conditions: on a shared machine the first two drift between the runs.
// Last, the full run's time against the bare-load floor (measureFloor), measured before the runs
// and again after them.
func BenchmarkMatrix(b *testing.B) {
	hcfg := harness.DefaultConfig()
	hcfg.QEMU = testenv.NeedQEMU(b)
	for i := 0; i < b.N; i++ {
		floor := measureFloor(b, hcfg)
		helpersOnly := hcfg
		helpersOnly.Kfuncs = []string{wire.NoKfuncs}
		base := runMatrix(b, "helpers only", helpersOnly)
		full := runMatrix(b, "helpers and kfuncs", hcfg)
		fmt.Printf("matrix: kfuncs add %.0f%% to the helper-only wall time (%.1fs -> %.1fs) and %.0f%% to the guests' CPU time (%.1fs -> %.1fs)\n",
			100*(full.wall/base.wall-1), base.wall, full.wall, 100*(full.cpu/base.cpu-1), base.cpu, full.cpu)
		rest := full.guest - full.kfunc
		fmt.Printf("matrix: within the run with kfuncs, the kfunc passes took %.1fs of the guests' %.1fs (boot and probe): %.0f%% on top of the rest (%.1fs)\n",
			full.kfunc, full.guest, 100*full.kfunc/rest, rest)
		fmt.Printf("matrix: within the run with kfuncs, the attach-point variants (struct_ops kinds and members, session and multi attach types, targets) and module kfuncs took %d loads and %.1fs in the kernels, %.0f%% on top of the other variants' %d loads and %.1fs (loads: %+.0f%%)\n",
			full.attach.loads, full.attach.seconds, 100*full.attach.seconds/full.other.seconds, full.other.loads, full.other.seconds,
			100*float64(full.attach.loads)/float64(full.other.loads))
		// The host's speed drifts within minutes: the floor is measured again after the full
		// run, and the ratio is to the mean of the two measurements around it.
		after := measureFloor(b, hcfg)
		for _, k := range floorKernels {
			f, g := floor[k], after[k]
			mean := (f.Seconds + g.Seconds) / 2
			fmt.Printf("matrix: the full run (%.1fs) is %.1f times the bare-load floor of %s (%d loads in %.2fs before the runs, %.2fs after: %.2fs on average)\n",
				full.wall, full.wall/mean, k, f.Loads, f.Seconds, g.Seconds, mean)
		}
		b.ReportMetric(full.wall/((floor[floorKernels[0]].Seconds+after[floorKernels[0]].Seconds)/2), "x-floor")
		b.ReportMetric(full.wall, "wall-s")
		b.ReportMetric(base.wall, "helpers-only-wall-s")
	}
}

// matrixFigures are one matrix run's totals, in seconds.
type matrixFigures struct {
	wall  float64 // the run
	cpu   float64 // QEMU's user and system time, summed over the guests
	guest float64 // boot and probe time, summed over the guests
	kfunc float64 // the guests' kfunc passes (observation.PassStats)
	// attach and other split the guests' loads (observation.VariantInfo.Loads) between what
	// answering per attach point added (variants not in testdata/variants-before-attach-points.txt,
	// and the loads of module kfuncs) and the rest.
	attach, other loadFigures
}

// loadFigures are loads and the seconds the kernels spent on them.
type loadFigures struct {
	loads   int
	seconds float64
}

// splitVariantCosts adds a document's variant costs to f.attach and f.other: the variants the
// probe had before attach points (before) count as other, except the loads of module kfuncs in them,
// estimated at the variant's mean cost per load.
func (f *matrixFigures) splitVariantCosts(before map[string]bool, doc *observation.Document) {
	modLoads := map[string]int{}
	modules := map[string]bool{}
	for _, k := range doc.Kfuncs {
		if k.Module != "" {
			modules[k.Name] = true
		}
	}
	for _, r := range doc.Results {
		if modules[r.Kfunc] {
			modLoads[r.ProgType+"/"+r.Variant]++
		}
	}
	for _, t := range doc.ProgTypes {
		for _, v := range t.Variants {
			key := t.Name + "/" + v.Name
			if !before[key] {
				f.attach.loads += v.Loads
				f.attach.seconds += v.Seconds
				continue
			}
			m := min(modLoads[key], v.Loads)
			perLoad := 0.0
			if v.Loads > 0 {
				perLoad = v.Seconds / float64(v.Loads)
			}
			f.attach.loads += m
			f.attach.seconds += float64(m) * perLoad
			f.other.loads += v.Loads - m
			f.other.seconds += float64(v.Loads-m) * perLoad
		}
	}
}

// variantsBeforeAttachPoints reads testdata/variants-before-attach-points.txt.
func variantsBeforeAttachPoints(b *testing.B) map[string]bool {
	data, err := os.ReadFile(filepath.Join("testdata", "variants-before-attach-points.txt"))
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out[line] = true
		}
	}
	return out
}

// runMatrix observes every kernel once with hcfg, prints the figures and returns the totals.
func runMatrix(b *testing.B, what string, hcfg harness.Config) (f matrixFigures) {
	before := variantsBeforeAttachPoints(b)
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
		if p := o.Doc.Passes; p != nil {
			fmt.Fprintf(&sb, "  %-8s passes: %s, %s, %s\n", "", passFigures("helpers", p.HelperLoads, p.HelperSeconds),
				passFigures("arguments", p.ArgLoads, p.ArgSeconds), passFigures("kfuncs", p.KfuncLoads, p.KfuncSeconds))
		}
		f.cpu += g.CPUSeconds
		f.guest += g.BootSeconds + g.ProbeSeconds
		if p := o.Doc.Passes; p != nil {
			f.kfunc += p.KfuncSeconds
		}
		f.splitVariantCosts(before, o.Doc)
		if o.Failed {
			failed++
			fmt.Fprintf(&sb, "    error: %s\n", g.Error)
		}
	}
	fmt.Fprintf(&sb, "  guests' CPU time: %.1fs\n", f.cpu)
	// Printed, not logged: `make bench` shows it whether or not the benchmark fails.
	fmt.Print(sb.String())
	if failed > 0 {
		b.Errorf("%d kernels failed", failed)
	}
	f.wall = elapsed.Seconds()
	return f
}

// passFigures says one pass's loads, seconds and milliseconds per load.
func passFigures(name string, loads int, seconds float64) string {
	return fmt.Sprintf("%s %d loads %.1fs %.2f ms/load", name, loads, seconds, 1000*seconds/float64(max(loads, 1)))
}
