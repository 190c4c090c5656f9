package objload

import (
	"errors"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// errNoTarget is attachTo's answer for a program whose section names nothing to attach to
// without more from the user (a device, a cgroup, a binary): no attachment is tried.
var errNoTarget = errors.New("nothing to attach to")

// attach attaches a program that loaded to the target its section names, records whether it
// attached, and detaches it again.
func (l *loader) attach(r *observation.ProgramLoad, prog *ebpf.Program, ps *ebpf.ProgramSpec) {
	lk, err := attachTo(prog, ps)
	if errors.Is(err, errNoTarget) {
		return
	}
	ok := err == nil
	r.Attached = &ok
	if err != nil {
		r.AttachError = err.Error()
		return
	}
	if err := lk.Close(); err != nil {
		r.AttachError = "detach: " + err.Error()
	}
}

// attachTo attaches prog as its section says, with cilium/ebpf's link package.
func attachTo(prog *ebpf.Program, ps *ebpf.ProgramSpec) (link.Link, error) {
	target := ps.AttachTo
	switch ps.Type {
	case ebpf.Kprobe:
		if target == "" || strings.HasPrefix(ps.SectionName, "uprobe") || strings.HasPrefix(ps.SectionName, "uretprobe") ||
			strings.HasPrefix(ps.SectionName, "usdt") || strings.HasPrefix(ps.SectionName, "kprobe.multi") ||
			strings.HasPrefix(ps.SectionName, "kretprobe.multi") {
			return nil, errNoTarget
		}
		if strings.HasPrefix(ps.SectionName, "kretprobe") {
			return link.Kretprobe(target, prog, nil)
		}
		return link.Kprobe(target, prog, nil)
	case ebpf.TracePoint:
		group, name, ok := strings.Cut(target, "/")
		if !ok {
			return nil, errNoTarget
		}
		return link.Tracepoint(group, name, prog, nil)
	case ebpf.RawTracepoint, ebpf.RawTracepointWritable:
		if target == "" {
			return nil, errNoTarget
		}
		return link.AttachRawTracepoint(link.RawTracepointOptions{Name: target, Program: prog})
	case ebpf.Tracing:
		if ps.AttachType == ebpf.AttachTraceIter {
			return link.AttachIter(link.IterOptions{Program: prog})
		}
		return link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ps.AttachType})
	case ebpf.LSM:
		return link.AttachLSM(link.LSMOptions{Program: prog})
	}
	return nil, errNoTarget
}
