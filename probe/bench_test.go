package probe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// BenchmarkProbeHost probes every variant and helper of the running kernel, as the guest agent
// does, with 1 and 2 parallel loaders and two first log buffer sizes, once with the helpers
// alone and once with the kfunc pass after them. It reports loads per probe and the seconds one
// full probe takes (ns/op says the same in nanoseconds), and the kfunc pass's share of both.
func BenchmarkProbeHost(b *testing.B) {
	requireRoot(b)
	reg := testRegistry(b)
	for _, workers := range []int{1, 2} {
		for _, logSize := range []int{4 << 10, 64 << 10} {
			for _, pass := range []string{"helpers", "helpers+kfuncs"} {
				benchmarkProbe(b, reg, workers, logSize, pass)
			}
		}
	}
}

func benchmarkProbe(b *testing.B, reg *registry.Registry, workers, logSize int, pass string) {
	b.Run(fmt.Sprintf("workers=%d/log=%dK/%s", workers, logSize>>10, pass), func(b *testing.B) {
		var stats Stats
		cpu0 := cpuTime()
		for b.Loop() {
			p, err := newProber(reg, Options{Workers: workers}, logSize)
			if err != nil {
				b.Fatal(err)
			}
			if pass == "helpers" {
				p.kfunc.list = nil
			}
			if err := p.Run(context.Background(), func(observation.Result) error { return nil }); err != nil {
				b.Fatal(err)
			}
			stats = p.Stats()
		}
		b.ReportMetric(float64(stats.Loads), "loads/op")
		b.ReportMetric(float64(stats.Pairs), "pairs/op")
		b.ReportMetric(float64(stats.SignalRetries), "retries/op")
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op")
		// CPU seconds (user and system: the verifier runs in the kernel) say more than wall
		// time on a machine that other work shares.
		b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
		b.ReportMetric(float64(stats.KfuncLoads), "kfunc-loads/op")
		b.ReportMetric(float64(stats.KfuncPairs), "kfunc-pairs/op")
		b.ReportMetric(stats.KfuncDuration.Seconds(), "kfunc-s/op")
	})
}

// cpuTime returns the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
