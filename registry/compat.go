package registry

import (
	"fmt"
	"strings"
)

// ExtProgType is the program type of extension programs (BPF_PROG_TYPE_EXT, freplace). The
// verifier checks an extension's helper calls against the type of the program it replaces, so
// the helpers an ext program may call are those of its target; the registry does not list ext.
const ExtProgType = "ext"

// WhyNotOffered returns a sentence naming the fact of the entry that rules the helper out for
// progType on kernel (the first one OfferedTo finds), or "" when OfferedTo is true.
func (h *Helper) WhyNotOffered(progType string, kernel Version) string {
	r, gap := h.rule(progType, kernel)
	return h.explain(r, gap, progType, kernel, nil)
}

// explain says why ruling r holds for h: the sentences of Availability.explain, and those of
// the rulings of ext programs, which only helpers have.
func (h *Helper) explain(r ruling, gap Gap, progType string, kernel Version, targets []string) string {
	switch r {
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
	return h.Availability.explain(h.CName(), "offered to", r, gap, progType, kernel)
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
	// AttachPoint is the attach point whose facts decided (CheckAt), "" when the program
	// type's did.
	AttachPoint string
	// Note says, when a question naming an attach point was answered for its program type,
	// that it was (Place.Note), and for a bare program type the attach points of the type
	// whose facts answer otherwise.
	Note string
}

// Check answers whether helper (a name, with or without bpf_, or an id) may be called from
// progType on kernel, and why not. A zero kernel means any kernel.
func (r *Registry) Check(helper, progType string, kernel Version) (Compatibility, error) {
	h, err := r.Find(helper)
	if err != nil {
		return Compatibility{}, err
	}
	if err := knownProgType(progType); err != nil {
		return Compatibility{}, err
	}
	return h.check(progType, kernel), nil
}

// CheckAt answers whether helper may be called at where, a program type or a libbpf section
// name (Availability.Locate), on kernel (a zero kernel: any kernel). A bare program type answers
// as Check unless its default attachment has facts of its own; an attach point with facts is
// answered by them; one without is answered for its program type, and the Note says so.
func (r *Registry) CheckAt(helper, where string, kernel Version) (Compatibility, error) {
	h, err := r.Find(helper)
	if err != nil {
		return Compatibility{}, err
	}
	p, err := h.Locate(where)
	if err != nil {
		return Compatibility{}, err
	}
	if p.Key == "" {
		c := h.check(p.ProgType(), kernel)
		c.Note = h.answerNote(p, kernel)
		return c, nil
	}
	c := Compatibility{Helper: h, ProgType: p.ProgType(), Kernel: kernel, AttachPoint: p.Key, Note: h.answerNote(p, kernel)}
	ru, gap := h.ruleAt(p, kernel)
	c.OK = ru == offered
	c.Reason = h.explainAt(h.CName(), "offered to", ru, gap, p, kernel)
	return c, nil
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
