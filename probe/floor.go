package probe

import (
	"fmt"
	"time"

	ebpfasm "github.com/cilium/ebpf/asm"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// The bare-load floor: what a kernel's BPF_PROG_LOAD costs with nothing of the probe around it,
// the yardstick the matrix's speed is measured by (make bench prints the full run's time as a
// multiple of it). Every program type id from 1 to floorTypes and every helper id from 1 to
// floorHelpers, as `call N; r0 = 0; exit` with a verifier log, in one worker: loads that a probe
// asking every pair could not make cheaper.
const (
	floorTypes   = 32
	floorHelpers = 211
)

// Floor loads the floor's programs rounds times and returns how many loads that took and how
// long. What the kernel answers is not looked at: the floor is a cost, not an observation.
func Floor(rounds int) (observation.FloorStats, error) {
	progs := make([][]byte, floorHelpers+1)
	for id := 1; id <= floorHelpers; id++ {
		b, err := bpfasm.Marshal(ebpfasm.Instructions{
			ebpfasm.BuiltinFunc(id).Call(),
			ebpfasm.Mov.Imm(ebpfasm.R0, 0),
			ebpfasm.Return(),
		})
		if err != nil {
			return observation.FloorStats{}, fmt.Errorf("probe: floor: %w", err)
		}
		progs[id] = b
	}
	l := newLoader(defaultLogSize)
	var s observation.FloorStats
	start := time.Now()
	for r := 0; r < rounds; r++ {
		for t := uint32(1); t <= floorTypes; t++ {
			for id := 1; id <= floorHelpers; id++ {
				l.load(&program{progType: t}, progs[id], true)
				s.Loads++
			}
		}
	}
	s.Seconds = time.Since(start).Seconds()
	return s, nil
}
