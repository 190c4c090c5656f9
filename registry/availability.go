package registry

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Availability says on which kernels, and to which program types, a function BPF programs call
// is offered. Helpers and kfuncs embed it, so that both keep the same facts under the same keys
// and answer "is it offered to this type on this kernel" with the same code.
type Availability struct {
	// MinKernel is the first kernel release that has the function at all.
	MinKernel Version `json:"min_kernel"`
	// LastKernel is the last release series that has it, for a function a later kernel removed;
	// zero while every kernel since MinKernel has it.
	LastKernel Version `json:"last_kernel,omitzero"`
	// Gaps are release-series ranges between MinKernel and now whose kernels lack the function.
	Gaps []Gap `json:"gaps,omitempty"`
	// ProgTypes are the program types that may call it.
	ProgTypes ProgTypes `json:"prog_types"`
	// ProgTypeSince holds, per program type, the first release that offers the function to that
	// type, where that is later than MinKernel.
	ProgTypeSince map[string]Version `json:"prog_type_since,omitempty"`
	// ProgTypeUntil holds, per program type, the last release series that offers the function
	// to that type, where a later kernel withdrew it.
	ProgTypeUntil map[string]Version `json:"prog_type_until,omitempty"`
	// ProgTypeGaps holds, per program type, ranges of release series between since and until
	// in which kernels withdrew the function from the type and later offered it again.
	ProgTypeGaps map[string][]Gap `json:"prog_type_gaps,omitempty"`
	// AttachPoints holds the facts of the attach points whose kernel rules differ from their
	// program type's default attachment (issue 18), keyed by canonical section key
	// (section.Section.Key: "kprobe.session", "iter/tcp", "struct_ops/sched_ext_ops.enqueue").
	AttachPoints map[string]AttachPoint `json:"attach_points,omitempty"`
}

// Remarks are what an entry says to the people who review it, beside its facts; helpers and
// kfuncs embed them.
type Remarks struct {
	// Sources says where each fact came from, by key ("min_kernel": "bcc kernel-versions.md").
	Sources map[string]string `json:"sources,omitempty"`
	// Notes records disagreements between sources and other remarks for reviewers.
	Notes string `json:"notes,omitempty"`
}

// Span is the releases in which a function is offered to one program type or attach point:
// from Since (zero: from MinKernel) until Until (zero: still offered), less the Gaps.
type Span struct {
	Since Version `json:"since,omitzero"`
	Until Version `json:"until,omitzero"`
	Gaps  []Gap   `json:"gaps,omitempty"`
}

// rule decides whether the span holds kernel (not zero): before Since, in a gap or after Until,
// with the gap that rules it out when that is the reason.
func (s Span) rule(kernel Version) (ruling, Gap) {
	if !s.Since.IsZero() && kernel.Less(s.Since) {
		return beforeSince, Gap{}
	}
	for _, g := range s.Gaps {
		if g.Contains(kernel) {
			return inGap, g
		}
	}
	if !s.Until.IsZero() && s.Until.before(kernel) {
		return afterUntil, Gap{}
	}
	return offered, Gap{}
}

// words says the span in words ("from 6.10", "until 6.12", "not in 6.2..6.5"), none for a
// span without bounds.
func (s Span) words() []string {
	var out []string
	if !s.Since.IsZero() {
		out = append(out, "from "+s.Since.String())
	}
	if !s.Until.IsZero() {
		out = append(out, "until "+s.Until.String())
	}
	for _, g := range s.Gaps {
		out = append(out, "not in "+g.String())
	}
	return out
}

// ProgTypes is the set of program types a function is offered to: either every type (All) or the
// listed ones. Types holds names from KnownProgTypes, sorted in kernel enum order.
type ProgTypes struct {
	All   bool
	Types []string
}

// Contains reports whether the set holds progType.
func (p ProgTypes) Contains(progType string) bool {
	if p.All {
		_, ok := ProgTypeID(progType)
		return ok
	}
	for _, t := range p.Types {
		if t == progType {
			return true
		}
	}
	return false
}

// String renders the set as "all" or a comma-separated list.
func (p ProgTypes) String() string {
	if p.All {
		return "all"
	}
	return strings.Join(p.Types, ", ")
}

// MarshalJSON writes the string "all" or an array of names, as the CLI's JSON contract says.
func (p ProgTypes) MarshalJSON() ([]byte, error) {
	if p.All {
		return json.Marshal("all")
	}
	if p.Types == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(p.Types)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *ProgTypes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s != "all" {
			return fmt.Errorf("prog_types: %q is neither \"all\" nor a list", s)
		}
		*p = ProgTypes{All: true}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("prog_types: %w", err)
	}
	*p = ProgTypes{Types: list}
	return nil
}

// NewProgTypes returns the set of the named program types, in kernel enum order.
func NewProgTypes(types []string) ProgTypes {
	want := map[string]bool{}
	for _, t := range types {
		want[t] = true
	}
	var out []string
	for _, t := range ProgTypeNames() {
		if want[t] {
			out = append(out, t)
		}
	}
	return ProgTypes{Types: out}
}

// Gap is a range of release series, both ends included, in which a function is missing (from a
// kernel, or from a program type) that is there before and after.
type Gap struct {
	From, To Version
}

// Contains reports whether kernel belongs to the gap; ends without a patch level name whole
// series (6.12 covers 6.12.118).
func (g Gap) Contains(kernel Version) bool {
	k := kernel.Series()
	return !k.Less(g.From.Series()) && !g.To.Series().Less(k)
}

// String renders the gap as it is written in the registry.
func (g Gap) String() string { return g.From.String() + ".." + g.To.String() }

// MarshalJSON writes the gap as its "FROM..TO" string.
func (g Gap) MarshalJSON() ([]byte, error) { return json.Marshal(g.String()) }

// ruling is what rules a function in or out for one program type on one kernel: the first fact
// of the entry that refuses it, in the order rule checks them.
type ruling int

const (
	offered         ruling = iota
	notListed              // prog_types does not name the type
	beforeMin              // the kernel is older than min_kernel
	afterLast              // the kernel is newer than last_kernel
	absent                 // the kernel lies in a gaps range
	beforeSince            // the kernel is older than prog_type_since
	inGap                  // the kernel lies in a prog_type_gaps range
	afterUntil             // the kernel is newer than prog_type_until
	noTarget               // ext: no program type an ext program could replace has it
	offeredToTarget        // ext: some program type an ext program could replace has it
	refusedAt              // the attach point refuses what its program type offers
)

// OfferedTo reports whether the entry declares the function for progType on kernel, taking every
// fact of the availability into account. A zero kernel means "any kernel": only the program
// type is checked. For helpers it reads the entry literally: for ext, whose programs inherit the
// helpers of the program they replace, Registry.Check answers for the target types as well.
func (a *Availability) OfferedTo(progType string, kernel Version) bool {
	r, _ := a.rule(progType, kernel)
	return r == offered
}

// presence decides whether kernel has the function at all (min_kernel, last_kernel, gaps), and
// returns the gap that rules it out when that is the reason.
func (a *Availability) presence(kernel Version) (ruling, Gap) {
	switch {
	case kernel.Less(a.MinKernel):
		return beforeMin, Gap{}
	case !a.LastKernel.IsZero() && a.LastKernel.before(kernel):
		return afterLast, Gap{}
	}
	for _, g := range a.Gaps {
		if g.Contains(kernel) {
			return absent, g
		}
	}
	return offered, Gap{}
}

// rule decides whether the entry declares the function for progType on kernel (a zero kernel:
// any kernel), and returns the gap that rules it out when that is the reason.
func (a *Availability) rule(progType string, kernel Version) (ruling, Gap) {
	if !a.ProgTypes.Contains(progType) {
		return notListed, Gap{}
	}
	if kernel.IsZero() {
		return offered, Gap{}
	}
	if r, g := a.presence(kernel); r != offered {
		return r, g
	}
	if since, ok := a.ProgTypeSince[progType]; ok && kernel.Less(since) {
		return beforeSince, Gap{}
	}
	for _, g := range a.ProgTypeGaps[progType] {
		if g.Contains(kernel) {
			return inGap, g
		}
	}
	if until, ok := a.ProgTypeUntil[progType]; ok && until.before(kernel) {
		return afterUntil, Gap{}
	}
	return offered, Gap{}
}

// explain says in a sentence why ruling r holds for the function called name; notListed says how
// the kind of function is offered ("offered to" for helpers, "callable from" for kfuncs). It
// returns "" for offered and for the rulings only helpers have (see Helper.explain).
func (a *Availability) explain(name, notListedVerb string, r ruling, gap Gap, progType string, kernel Version) string {
	switch r {
	case notListed:
		return fmt.Sprintf("%s is not %s %s programs (declared: %s)", name, notListedVerb, progType, a.ProgTypes)
	case beforeMin:
		return fmt.Sprintf("%s first appeared in %s, newer than %s", name, a.MinKernel, kernel)
	case afterLast:
		return fmt.Sprintf("%s was removed after %s", name, a.LastKernel)
	case absent:
		return fmt.Sprintf("%s was missing from kernels %s (gaps), which includes %s", name, gap, kernel)
	case beforeSince:
		return fmt.Sprintf("%s reached %s programs in %s, newer than %s", name, progType, a.ProgTypeSince[progType], kernel)
	case inGap:
		return fmt.Sprintf("%s was withdrawn from %s programs in %s (prog_type_gaps), which includes %s", name, progType, gap, kernel)
	case afterUntil:
		return fmt.Sprintf("%s was withdrawn from %s programs after %s", name, progType, a.ProgTypeUntil[progType])
	}
	return ""
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
