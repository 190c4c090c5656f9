package verdict

import (
	"fmt"
	"sort"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// State is what one kernel said about one helper in one program type, variants merged.
type State string

// Cell states.
const (
	StateOffered    State = "offered"                       // some variant offers it
	StateRefused    State = "refused"                       // every variant refuses it (not_for_type)
	StateUnknown    State = State(observation.UnknownID)    // the kernel does not know the id
	StateNoEvidence State = "no_evidence"                   // inconclusive, absent type, or no answer
	StateFailed     State = State(observation.StatusFailed) // the kernel failed; nothing it said counts
)

// evidence reports whether the state says something about the helper.
func (s State) evidence() bool {
	return s == StateOffered || s == StateRefused || s == StateUnknown
}

// VariantAnswer is one attach variant's answer inside a cell.
type VariantAnswer struct {
	Variant string              `json:"variant"`
	Outcome observation.Outcome `json:"outcome"`
	Detail  string              `json:"detail,omitempty"`
}

// Cell is one kernel's answer for one helper and program type.
type Cell struct {
	Kernel  string `json:"kernel"`
	Version string `json:"version"`
	State   State  `json:"state"`
	// Declared is what the registry says this kernel should do.
	Declared bool `json:"declared"`
	// Conditions lists the limits under which an offered helper is offered, when no variant
	// offered it plainly: "gpl_only", "sleepable_only", "not_for_target"; and, for a kfunc
	// working on an object the type may not hold in a map value, CannotHold with the object
	// whether or not a variant offered it plainly.
	Conditions []string `json:"conditions,omitempty"`
	// Detail is the decisive verifier line or error of the cell's state.
	Detail   string          `json:"detail,omitempty"`
	Variants []VariantAnswer `json:"variants,omitempty"`
	// ArchDiffers is set, by the report, on a cell of a kernel built for another
	// architecture than amd64 when some answer under it differs from the answer of the amd64
	// kernel of the same release to the same question; verdicts leave it unset.
	ArchDiffers bool `json:"arch_differs,omitempty"`
}

// Contradicts reports whether the cell's evidence disagrees with the registry.
func (c Cell) Contradicts() bool {
	switch c.State {
	case StateOffered:
		return !c.Declared
	case StateRefused, StateUnknown:
		return c.Declared
	}
	return false
}

// mergeVariants folds the answers of a type's attach variants into one cell state: offered when
// any variant offers; unknown when the kernel does not know the id; refused only when every
// variant answered and refused, since a variant that could not answer (a trampoline type the
// kernel would not load) might be the one that offers it.
func mergeVariants(c *Cell, rs []observation.Result) {
	c.State = StateNoEvidence
	if len(rs) == 0 {
		c.Detail = "no answer (program type absent or not probed)"
		return
	}
	plain, refused, inconclusive := false, 0, 0
	conds := map[string]bool{}
	var offerDetail, refuseDetail, otherDetail string
	for _, r := range rs {
		c.Variants = append(c.Variants, VariantAnswer{Variant: r.Variant, Outcome: r.Outcome, Detail: r.Detail})
		switch r.Outcome {
		case observation.Supported:
			plain = true
			if offerDetail == "" {
				offerDetail = r.Variant + ": " + r.Detail
			}
		case observation.GPLOnly, observation.SleepableOnly, observation.NotForTarget:
			conds[string(r.Outcome)] = true
			if offerDetail == "" {
				offerDetail = r.Variant + ": " + r.Detail
			}
		case observation.UnknownID:
			c.State, c.Detail = StateUnknown, r.Detail
		case observation.NotForType:
			refused++
			if refuseDetail == "" {
				refuseDetail = r.Variant + ": " + r.Detail
			}
		default:
			inconclusive++
			if otherDetail == "" {
				otherDetail = r.Variant + ": " + string(r.Outcome) + ": " + r.Detail
			}
		}
	}
	switch {
	case c.State == StateUnknown:
	case plain || len(conds) > 0:
		c.State, c.Detail = StateOffered, offerDetail
		if !plain {
			for k := range conds {
				c.Conditions = append(c.Conditions, k)
			}
			sort.Strings(c.Conditions)
		}
	case refused > 0 && inconclusive == 0:
		c.State, c.Detail = StateRefused, refuseDetail
	default:
		c.State, c.Detail = StateNoEvidence, otherDetail
		if refused > 0 {
			c.Detail = fmt.Sprintf("%d variant(s) refuse, %d could not answer (%s)", refused, inconclusive, otherDetail)
		}
	}
}

// Shade is how a cell is shown, one letter per kind of answer. It is decided here, once, so
// that every view of a report (the page's first rendering, its script after a filter change,
// the kfunc table) paints a cell alike; the page's styles are named after the letters.
type Shade byte

// Cell shades.
const (
	ShadeOffered     Shade = 'O' // offered plainly
	ShadeConditional Shade = 'C' // offered under conditions (GPL only, sleepable only, some targets, an object the type may not hold)
	ShadeRefused     Shade = 'R' // refused
	ShadeUnknown     Shade = 'U' // the kernel does not have the entry
	ShadeNoEvidence  Shade = 'N' // no evidence either way
	ShadeFailed      Shade = 'F' // the kernel failed
	// ShadeKnownNoType marks an existence cell whose kernel has the entry but offers it to no
	// program type probed here (override_return on kernels built without
	// CONFIG_BPF_KPROBE_OVERRIDE): known, yet nothing may call it, so not painted as offered.
	ShadeKnownNoType Shade = 'K'
)

// Shade is the cell's shade.
func (c Cell) Shade() Shade {
	switch c.State {
	case StateOffered:
		if len(c.Conditions) > 0 {
			return ShadeConditional
		}
		return ShadeOffered
	case StateRefused:
		return ShadeRefused
	case StateUnknown:
		return ShadeUnknown
	case StateFailed:
		return ShadeFailed
	}
	return ShadeNoEvidence
}
