package observe

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// floorKernels are the kernels whose bare-load floor make bench measures: the one the issue's
// yardstick was measured on (6.12) and the newest, whose loads cost most.
var floorKernels = []string{"6.12", "7.3"}

// floorRounds is how many times a floor guest loads its 32 x 211 programs (33,760 loads).
const floorRounds = 5

// measureFloor boots floorKernels with the agent asked for the bare-load floor, straight through
// the harness (a floor is no observation and must never reach the observation cache), and
// returns each kernel's floor by name.
func measureFloor(b *testing.B, hcfg harness.Config) map[string]observation.FloorStats {
	entries, err := Options{KernelsFile: filepath.Join("..", "kernels.yaml"), Kernels: floorKernels}.entries()
	if err != nil {
		b.Fatal(err)
	}
	images, err := (&vmimages.Fetcher{}).Fetch(context.Background(), entries)
	if err != nil {
		b.Fatal(err)
	}
	if hcfg.Agent == "" {
		dir := b.TempDir()
		if hcfg.Agent, err = harness.AgentBinary(context.Background(), dir, observation.ArchAMD64); err != nil {
			b.Fatal(err)
		}
	}
	hcfg.Append = append(hcfg.Append, fmt.Sprintf("%s=%d", wire.EnvFloor, floorRounds))
	var kernels []harness.Kernel
	for _, img := range images {
		kernels = append(kernels, HarnessKernel(img))
	}
	results, err := harness.Run(context.Background(), hcfg, kernels, nil)
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]observation.FloorStats{}
	for _, r := range results {
		p := r.Doc.Facts.Passes
		if !r.OK() || p == nil || p.Floor == nil {
			b.Fatalf("floor guest %s: status %s, %s", r.Kernel.Name, r.Doc.Guest.Status, r.Doc.Guest.Error)
		}
		out[r.Kernel.Name] = *p.Floor
		fmt.Printf("floor: %-5s %d loads in %.2fs (%.3f ms per load, one worker, verifier log on)\n",
			r.Kernel.Name, p.Floor.Loads, p.Floor.Seconds, 1000*p.Floor.Seconds/float64(p.Floor.Loads))
	}
	return out
}
