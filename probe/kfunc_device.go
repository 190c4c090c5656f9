package probe

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// The XDP metadata kfuncs (bpf_xdp_metadata_rx_hash and its siblings) are refused to every
// program that is not bound to a network device, and the kernel checks that when it first
// resolves the call, before it looks at the program type. So a plain load answers
// observation.DeviceBound in every type, which says nothing about the types; the pass loads
// those pairs again bound to the loopback device, which every guest has. Only XDP programs may
// be bound to a device without offload: every other type is refused at once, which is the
// answer for it. lo itself has no native XDP, so an XDP program bound to it is refused too
// (before verification) and keeps the first answer.

// progFlagDevBoundOnly is BPF_F_XDP_DEV_BOUND_ONLY (6.3): bind to a device without offloading.
const progFlagDevBoundOnly = 1 << 6

// loopbackIfindex is the loopback device's index, the first device of every network namespace.
const loopbackIfindex = 1

// deviceBoundJobs returns a job per loaded pair that answered observation.DeviceBound, to be
// asked again bound to a device; the answers map keeps pointing at the original jobs, whose
// results the new loads replace (see answerKfunc).
func (p *Prober) deviceBoundJobs(answers map[kfuncKey]*kfuncJob) []*kfuncJob {
	var jobs []*kfuncJob
	for _, j := range answers {
		if j.result.Outcome == observation.DeviceBound {
			j.deviceBound = true
			jobs = append(jobs, j)
		}
	}
	return jobs
}

// boundProgram returns prog bound to the loopback device without offload.
func boundProgram(prog program) program {
	prog.ifindex = loopbackIfindex
	prog.flags |= progFlagDevBoundOnly
	return prog
}

// classifyDeviceBound classifies the load of a device-bound pair. A type the kernel refuses
// to bind (EINVAL with no log: only XDP programs may be bound without offload) cannot call the
// kfunc. An XDP program the kernel will not bind to lo (EOPNOTSUPP: lo has no native XDP; EINVAL
// before 6.3, which lacks the flag) keeps its first answer, observation.DeviceBound: offered to
// XDP programs bound to a capable device. The rest is the usual classification, with the
// binding named in the detail.
func classifyDeviceBound(progType string, res loadResult) (observation.Outcome, string, []string) {
	refused := (errors.Is(res.errno, unix.EINVAL) || errors.Is(res.errno, unix.EOPNOTSUPP)) && strings.TrimSpace(res.log) == ""
	switch {
	case refused && progType == "xdp":
		return observation.DeviceBound, fmt.Sprintf("metadata kfuncs require device-bound program (binding to lo: %s before verification)", errnoName(res.errno)), nil
	case refused && errors.Is(res.errno, unix.EINVAL):
		return observation.NotForType, fmt.Sprintf("metadata kfuncs require device-bound program, and the kernel refuses to bind a %s program to a device (EINVAL before verification)", progType), nil
	}
	outcome, detail, flags := ClassifyKfunc(res.errno, res.log)
	return outcome, detail + " (program bound to lo)", flags
}

// mergeFlags returns the sorted union of two flag lists.
func mergeFlags(a, b []string) []string {
	out := slices.Clone(a)
	for _, f := range b {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}
