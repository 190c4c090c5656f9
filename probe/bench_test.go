package probe

import (
	"context"
	"fmt"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"testing"
)

// BenchmarkProbeHost probes every variant and helper of the running kernel, as the guest agent
// does, with 1 and 2 parallel loaders and two first log buffer sizes. It reports loads per probe
// and the seconds one full probe takes (ns/op says the same in nanoseconds).
func BenchmarkProbeHost(b *testing.B) {
	requireRoot(b)
	reg := testRegistry(b)
	for _, workers := range []int{1, 2} {
		for _, logSize := range []int{4 << 10, 64 << 10} {
			b.Run(fmt.Sprintf("workers=%d/log=%dK", workers, logSize>>10), func(b *testing.B) {
				var stats Stats
				for b.Loop() {
					p, err := newProber(reg, Options{Workers: workers}, logSize)
					if err != nil {
						b.Fatal(err)
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
			})
		}
	}
}
