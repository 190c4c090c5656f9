package harness

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// runMatrix runs kernels with cfg once and prints wall time and per-kernel figures.
func runMatrix(b *testing.B, cfg Config, kernels []Kernel) {
	b.Helper()
	start := time.Now()
	results := testenv.Must(Run(context.Background(), cfg, kernels, nil))(b)
	wall := time.Since(start)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d kernels, %d guests at a time with %d vCPU(s), %s, channel %s (compress %v): wall %.1fs\n",
		len(kernels), cfg.Parallel, cfg.CPUs, results[0].Doc.Guest.Accel, cfg.Channel, cfg.Compress, wall.Seconds())
	fmt.Fprintf(&sb, "  %-8s %-6s %8s %8s %8s %10s\n", "kernel", "status", "boot s", "probe s", "results", "stream B")
	var boot, probe float64
	failed := 0
	for _, r := range results {
		g := r.Doc.Guest
		fmt.Fprintf(&sb, "  %-8s %-6s %8.2f %8.2f %8d %10d\n", r.Kernel.Name, g.Status, g.BootSeconds, g.ProbeSeconds, len(r.Doc.Results), g.StreamBytes)
		boot += g.BootSeconds
		probe += g.ProbeSeconds
		if !r.OK() {
			failed++
			fmt.Fprintf(&sb, "    error: %s\n", g.Error)
		}
	}
	// Printed, not logged: `make bench` shows it whether or not the benchmark fails.
	fmt.Print(sb.String())
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(boot/float64(len(results)), "boot-s/kernel")
	b.ReportMetric(probe/float64(len(results)), "probe-s/kernel")
	if failed > 0 {
		b.Errorf("%d kernels failed", failed)
	}
}

// comparisons are slow (a full matrix each); they run only when asked for.
func needComparisons(b *testing.B) {
	if os.Getenv("BPFMATRIX_BENCH_COMPARE") == "" {
		b.Skip("set BPFMATRIX_BENCH_COMPARE=1 to compare layouts and channels (minutes per case)")
	}
}

// benchMatrix runs the matrix of kernels as the sub-benchmark name, in the test configuration
// as set changes it: the comparisons below differ only in their configurations.
func benchMatrix(b *testing.B, name string, kernels []Kernel, set func(*Config)) {
	b.Run(name, func(b *testing.B) {
		cfg := testConfig(b)
		set(&cfg)
		for i := 0; i < b.N; i++ {
			runMatrix(b, cfg, kernels)
		}
	})
}

// BenchmarkLayouts compares ways to share the host's cores between guests: several guests with
// one vCPU each, or fewer guests with more vCPUs.
func BenchmarkLayouts(b *testing.B) {
	needComparisons(b)
	kernels := allKernels(b)
	for _, l := range []struct{ parallel, cpus int }{{2, 1}, {1, 2}, {3, 1}, {2, 2}} {
		benchMatrix(b, fmt.Sprintf("%dx%dcpu", l.parallel, l.cpus), kernels, func(cfg *Config) {
			cfg.Parallel, cfg.CPUs = l.parallel, l.cpus
		})
	}
}

// BenchmarkChannels compares the result channels on the oldest and the newest kernel, one guest
// at a time, so that the channel is the only difference.
func BenchmarkChannels(b *testing.B) {
	needComparisons(b)
	kernels := testKernels(b, "5.10", "7.3")
	for _, c := range []struct {
		channel  string
		compress bool
	}{{wire.ChannelVirtio, false}, {wire.ChannelVirtio, true}, {wire.ChannelSerial, true}} {
		benchMatrix(b, fmt.Sprintf("%s-gzip=%v", c.channel, c.compress), kernels, func(cfg *Config) {
			cfg.Parallel, cfg.CPUs = 1, 1
			cfg.Channel, cfg.Compress = c.channel, c.compress
		})
	}
}

// BenchmarkInitramfs compares a gzip initramfs with an uncompressed one: the guest decompresses
// without hardware help, the uncompressed one is bigger to load.
func BenchmarkInitramfs(b *testing.B) {
	needComparisons(b)
	kernels := testKernels(b, "5.10", "7.3")
	for _, z := range []bool{false, true} {
		benchMatrix(b, fmt.Sprintf("gzip=%v", z), kernels, func(cfg *Config) {
			cfg.Parallel, cfg.CPUs = 1, 1
			cfg.CompressInitramfs = z
			cfg.Helpers = []int{1}
			cfg.ProgTypes = []string{"socket_filter"}
		})
	}
}

// BenchmarkCrashStudy boots one kernel many times in each of several guest configurations and
// counts the boots that crashed (a panic, an oops, a double fault, a guest that stopped), to
// find a configuration under TCG in which kernels do not crash at random. It runs only when
// asked: BPFMATRIX_CRASH_STUDY=KERNEL:BOOTS (e.g. 6.17:50).
func BenchmarkCrashStudy(b *testing.B) {
	spec := os.Getenv("BPFMATRIX_CRASH_STUDY")
	if spec == "" {
		b.Skip("set BPFMATRIX_CRASH_STUDY=KERNEL:BOOTS to run the crash study (hours)")
	}
	name, n, ok := strings.Cut(spec, ":")
	boots, err := strconv.Atoi(n)
	if !ok || err != nil || boots < 1 {
		b.Fatalf("BPFMATRIX_CRASH_STUDY=%q: want KERNEL:BOOTS", spec)
	}
	k := testKernels(b, name)[0]
	configs := []struct {
		name     string
		thread   string
		cpus     int
		cpuModel string
	}{
		{"mttcg-2vcpu (default)", "", 2, ""},
		{"single-thread-2vcpu", "single", 2, ""},
		{"mttcg-1vcpu", "", 1, ""},
		{"mttcg-2vcpu-cpu=max", "", 2, "max"},
	}
	if only := os.Getenv("BPFMATRIX_CRASH_CONFIGS"); only != "" {
		keep := configs[:0]
		for _, c := range configs {
			if strings.Contains(only, strings.Fields(c.name)[0]) {
				keep = append(keep, c)
			}
		}
		configs = keep
	}
	for _, c := range configs {
		cfg := testConfig(b)
		cfg.TCGThread, cfg.CPUs, cfg.CPUModel, cfg.Retries = c.thread, c.cpus, c.cpuModel, 0
		kernels := make([]Kernel, boots)
		for i := range kernels {
			kernels[i] = k
			kernels[i].Name = fmt.Sprintf("%s#%d", name, i+1)
		}
		start := time.Now()
		results := testenv.Must(Run(context.Background(), cfg, kernels, nil))(b)
		crashed, probe := 0, 0.0
		var why []string
		for _, r := range results {
			probe += r.Doc.Guest.ProbeSeconds
			if !r.OK() {
				crashed++
				why = append(why, r.Kernel.Name+": "+strings.SplitN(r.Doc.Guest.Error, "\n", 2)[0])
			}
		}
		fmt.Printf("crash study %s %-24s boots %3d crashed %2d  wall %6.1fs  probe %.1fs/boot\n",
			name, c.name, boots, crashed, time.Since(start).Seconds(), probe/float64(boots))
		for _, w := range why {
			fmt.Printf("    %s\n", w)
		}
	}
}
