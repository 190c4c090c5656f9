package registry

import (
	"fmt"
	"strings"
)

// ExtProgType is the program type of extension programs (BPF_PROG_TYPE_EXT, freplace). The
// verifier checks an extension's helper calls against the type of the program it replaces, so
// the helpers an ext program may call are those of its target; the registry does not list ext.
const ExtProgType = "ext"

// ruling is what rules a helper in or out for one program type on one kernel: the first fact of
// the entry that refuses it, in the order OfferedTo checks them.
type ruling int

const (
	offered         ruling = iota
	notListed              // prog_types does not name the type
	beforeMin              // the kernel is older than min_kernel
	beforeSince            // the kernel is older than prog_type_since
	inGap                  // the kernel lies in a prog_type_gaps range
	afterUntil             // the kernel is newer than prog_type_until
	noTarget               // ext: no program type an ext program could replace has it
	offeredToTarget        // ext: some program type an ext program could replace has it
)

// availability is what decides whether a function is offered to a program type on a kernel:
// helpers and kfuncs share it, so both answer the same questions the same way.
type availability struct {
	minKernel Version
	progTypes ProgTypes
	since     map[string]Version
	until     map[string]Version
	gaps      map[string][]Gap
}

func (h *Helper) availability() availability {
	return availability{h.MinKernel, h.ProgTypes, h.ProgTypeSince, h.ProgTypeUntil, h.ProgTypeGaps}
}

// rule decides whether the registry declares h for progType on kernel (a zero kernel: any
// kernel), and returns the gap that rules it out when that is the reason.
func (h *Helper) rule(progType string, kernel Version) (ruling, Gap) {
	return h.availability().rule(progType, kernel)
}

func (a availability) rule(progType string, kernel Version) (ruling, Gap) {
	if !a.progTypes.Contains(progType) {
		return notListed, Gap{}
	}
	if kernel.IsZero() {
		return offered, Gap{}
	}
	if kernel.Less(a.minKernel) {
		return beforeMin, Gap{}
	}
	if since, ok := a.since[progType]; ok && kernel.Less(since) {
		return beforeSince, Gap{}
	}
	for _, g := range a.gaps[progType] {
		if g.Contains(kernel) {
			return inGap, g
		}
	}
	if until, ok := a.until[progType]; ok && until.before(kernel) {
		return afterUntil, Gap{}
	}
	return offered, Gap{}
}

// before reports whether the release v names ends before kernel: an until without a patch
// level names a whole series (6.1 covers 6.1.192).
func (v Version) before(kernel Version) bool {
	k := kernel
	if !v.HasPatch {
		k = kernel.Series()
	}
	return v.Less(k)
}

// WhyNotOffered returns a sentence naming the fact of the entry that rules the helper out for
// progType on kernel (the first one OfferedTo finds), or "" when OfferedTo is true.
func (h *Helper) WhyNotOffered(progType string, kernel Version) string {
	r, gap := h.rule(progType, kernel)
	return h.explain(r, gap, progType, kernel, nil)
}

func (h *Helper) explain(r ruling, gap Gap, progType string, kernel Version, targets []string) string {
	switch r {
	case notListed:
		return fmt.Sprintf("%s is not offered to %s programs (declared: %s)", h.CName(), progType, h.ProgTypes)
	case beforeMin:
		return fmt.Sprintf("%s first appeared in %s, newer than %s", h.CName(), h.MinKernel, kernel)
	case beforeSince:
		return fmt.Sprintf("%s reached %s programs in %s, newer than %s", h.CName(), progType, h.ProgTypeSince[progType], kernel)
	case inGap:
		return fmt.Sprintf("%s was withdrawn from %s programs in %s (prog_type_gaps), which includes %s", h.CName(), progType, gap, kernel)
	case afterUntil:
		return fmt.Sprintf("%s was withdrawn from %s programs after %s", h.CName(), progType, h.ProgTypeUntil[progType])
	case noTarget:
		return fmt.Sprintf("%s is offered to no program type on %s, and an %s program may call only what the program it replaces may", h.CName(), kernel, ExtProgType)
	case offeredToTarget:
		types := strings.Join(targets, ", ")
		if len(targets) == len(KnownProgTypes)-2 { // every type but unspec and ext
			types = "any"
		}
		return fmt.Sprintf("%s may be called from %s programs on %s that replace a program of a type that may call it: %s (an %s program inherits the helpers of the program it replaces)",
			h.CName(), ExtProgType, kernel, types, ExtProgType)
	}
	return ""
}

// TypesOffered returns, in kernel enum order, the program types other than ext that the registry
// declares the helper for on kernel (a zero kernel: any kernel). They are the types of the
// programs an ext program may replace and still call the helper.
func (h *Helper) TypesOffered(kernel Version) []string {
	var out []string
	for _, t := range KnownProgTypes[1:] {
		if t != ExtProgType && h.OfferedTo(t, kernel) {
			out = append(out, t)
		}
	}
	return out
}

// Compatibility is the registry's answer to whether a helper may be called from a program type
// on a kernel, with the reason.
type Compatibility struct {
	Helper   *Helper
	ProgType string
	Kernel   Version
	// OK is true when the registry declares the helper usable from ProgType on Kernel. For ext
	// it is true when some program type an ext program may replace has the helper, as whether a
	// given ext program may call it depends on the type of the program it replaces.
	OK bool
	// Reason says why OK is false, naming the fact of the entry that rules the helper out; for
	// ext it also says, when OK is true, which target types the answer depends on.
	Reason string
	// Targets lists, for ext only, the program types of the programs an ext program may replace
	// and still call the helper (see TypesOffered).
	Targets []string
}

// Check answers whether helper (a name, with or without bpf_, or an id) may be called from
// progType on kernel, and why not. A zero kernel means any kernel.
func (r *Registry) Check(helper, progType string, kernel Version) (Compatibility, error) {
	h, err := r.Find(helper)
	if err != nil {
		return Compatibility{}, err
	}
	if _, ok := ProgTypeID(progType); !ok {
		return Compatibility{}, fmt.Errorf("%w: %q", ErrUnknownProgType, progType)
	}
	return h.check(progType, kernel), nil
}

func (h *Helper) check(progType string, kernel Version) Compatibility {
	c := Compatibility{Helper: h, ProgType: progType, Kernel: kernel}
	ru, gap := h.rule(progType, kernel)
	if progType == ExtProgType && ru != offered {
		c.Targets = h.TypesOffered(kernel)
		switch {
		case len(c.Targets) > 0:
			ru = offeredToTarget
		case !kernel.IsZero() && kernel.Less(h.MinKernel):
			ru = beforeMin
		default:
			ru = noTarget
		}
	}
	c.OK = ru == offered || ru == offeredToTarget
	c.Reason = h.explain(ru, gap, progType, kernel, c.Targets)
	return c
}
