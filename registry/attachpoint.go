package registry

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/section"
)

// AttachPoint is what an entry says about one attach point of a program type (issue 18): the
// facts of the program type answer for its default attachment, and an attach point whose kernel
// rules differ (kprobe.session, iter/tcp, struct_ops/sched_ext_ops.enqueue, fentry/dentry_open)
// has its own. Its Span is read like a program type's since, until and gaps; Refused (written
// `offered: false`) says the attach point refuses, on every kernel, what its program type offers.
type AttachPoint struct {
	Span
	// Refused is true when the attach point refuses the function on every kernel that has it.
	Refused bool
	// Evidence says which kernels and targets showed the facts (every attach point has one).
	Evidence string
}

// MarshalJSON writes the attach point with the keys of the registry file, which the loader
// reads back: offered only for a refusal, as false.
func (p AttachPoint) MarshalJSON() ([]byte, error) {
	var refused *bool
	if p.Refused {
		refused = new(bool)
	}
	return json.Marshal(struct {
		Since    Version `json:"since,omitzero"`
		Until    Version `json:"until,omitzero"`
		Gaps     []Gap   `json:"gaps,omitempty"`
		Offered  *bool   `json:"offered,omitempty"`
		Evidence string  `json:"evidence"`
	}{p.Since, p.Until, p.Gaps, refused, p.Evidence})
}

// String renders the facts of the attach point on one line, as info shows them.
func (p AttachPoint) String() string {
	var parts []string
	if p.Refused {
		parts = append(parts, "not offered")
	}
	if !p.Since.IsZero() {
		parts = append(parts, "from "+p.Since.String())
	}
	if !p.Until.IsZero() {
		parts = append(parts, "until "+p.Until.String())
	}
	for _, g := range p.Gaps {
		parts = append(parts, "not in "+g.String())
	}
	if len(parts) == 0 {
		parts = append(parts, "offered")
	}
	return strings.Join(parts, ", ") + " (evidence: " + p.Evidence + ")"
}

// Place is where a question asks about a function: a program type or a libbpf section name,
// resolved against one entry's facts.
type Place struct {
	// Section is the question's WHERE as package section reads it.
	Section section.Section
	// Key is the attach point whose facts answer, "" when the program type's do.
	Key string
	// Point is the facts under Key.
	Point AttachPoint
	// Note says, when the program type's facts answer a question that named an attach point,
	// that they do; "" for an attach point with facts. Locate leaves it "" for a bare program
	// type; Kfunc.CheckAt then names the attach points of the type whose facts answer otherwise.
	Note string
}

// ProgType is the program type of the place.
func (p Place) ProgType() string { return p.Section.ProgType }

// BareProgType reports whether the question named a program type alone (sched_cls, kprobe), whose
// answer is the program type's as it has always been.
func BareProgType(where string) bool {
	_, ok := ProgTypeID(where)
	return ok
}

// Locate resolves where (a program type name or a libbpf section name) against the entry's
// attach-point facts: the most specific key that has facts answers (the section's key with its
// target or struct_ops member, then its struct_ops kind, then its prefix), else its program
// type. A name package section cannot read is an error wrapping its *section.Error (and
// ErrUnknownProgType, as before section names were asked, when the name has no '/').
func (a *Availability) Locate(where string) (Place, error) {
	s, err := parseWhere(where)
	if err != nil {
		return Place{}, err
	}
	p := Place{Section: s}
	if BareProgType(where) || pointKeys(s)[0] == s.ProgType {
		return p, nil
	}
	for _, key := range pointKeys(s) {
		if pt, ok := a.AttachPoints[key]; ok {
			p.Key, p.Point = key, pt
			return p, nil
		}
	}
	p.Note = fmt.Sprintf("no facts recorded for %s: answered for its program type %s%s", AttachPointKey(s), s.ProgType, UncheckedStructOps(s))
	return p, nil
}

// UncheckedStructOps is what an answer adds for a struct_ops section naming a kind or member:
// that the registry cannot tell yet whether some kernel has it. "" for any other section.
func UncheckedStructOps(s section.Section) string {
	if s.TargetKind != section.StructOpsMember || s.Target == "" {
		return ""
	}
	return fmt.Sprintf("; the registry holds no per-kernel list of struct_ops kinds and members yet, so %s is not checked to exist", s.Target)
}

// parseWhere reads the WHERE of a question. A name without '/' that nothing matches is still
// refused as an unknown program type, as it was before section names were asked, with the
// section package's reason.
func parseWhere(where string) (section.Section, error) {
	s, err := section.Parse(where)
	if err != nil && !strings.Contains(where, "/") {
		return s, fmt.Errorf("%w: %q (%w)", ErrUnknownProgType, where, err)
	}
	return s, err
}

// pointKeys returns the attach-point keys that may answer for s, most specific first, without
// the program type itself (whose facts are prog_types and prog_type_*). A struct_ops section
// whose target has no '.' keys by that target as a kind ("struct_ops/Qdisc_ops"): libbpf would
// read it as the program's own name, but only a kind can have facts.
func pointKeys(s section.Section) []string {
	if defaultAttachment(s) {
		return []string{s.ProgType}
	}
	keys := []string{s.Key()}
	switch {
	case s.Kind != "":
		keys = append(keys, s.Base()+"/"+s.Kind)
	case kindKey(s):
		keys = []string{s.Base() + "/" + s.Target}
	}
	keys = append(keys, s.Base())
	var out []string
	for _, k := range keys {
		if k != s.ProgType && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		out = append(out, s.Key())
	}
	return out
}

// defaultAttachment reports whether s loads a program exactly as its bare program type does
// (`tc` and `classifier` as sched_cls, `fentry` without a target as tracing): the same expected
// attach type and flags, and no target, kind or module. Such a section asks the program type's
// question, whose facts are prog_types and prog_type_*.
func defaultAttachment(s section.Section) bool {
	if s.Target != "" || s.Kind != "" || s.Module != "" {
		return false
	}
	base, err := section.Parse(s.ProgType)
	return err == nil && s.AttachType == base.AttachType && s.Sleepable == base.Sleepable && s.XDPFrags == base.XDPFrags
}

// AttachPointKey is the key under which the facts of the attach point s names are recorded: its
// section key (section.Section.Key), or for a struct_ops kind as a whole "struct_ops/KIND".
func AttachPointKey(s section.Section) string { return pointKeys(s)[0] }

// kindKey reports whether s is a struct_ops section naming a struct_ops kind as a whole
// ("struct_ops/Qdisc_ops"), which section reads as a program's own name.
func kindKey(s section.Section) bool {
	return s.TargetKind == section.StructOpsMember && s.Kind == "" && s.Target != ""
}

// rule decides whether the attach point p offers the function on kernel (a zero kernel:
// any kernel), the kernel's presence of the function aside, and returns the gap that rules it
// out when that is the reason.
func (p AttachPoint) rule(kernel Version) (ruling, Gap) {
	switch {
	case p.Refused:
		return refusedAt, Gap{}
	case kernel.IsZero():
		return offered, Gap{}
	case !p.Since.IsZero() && kernel.Less(p.Since):
		return beforeSince, Gap{}
	}
	for _, g := range p.Gaps {
		if g.Contains(kernel) {
			return inGap, g
		}
	}
	if !p.Until.IsZero() && p.Until.before(kernel) {
		return afterUntil, Gap{}
	}
	return offered, Gap{}
}

// ruleAt decides whether the entry offers the function at place on kernel (a zero kernel: any
// kernel) when the place has attach-point facts: the kernel must have the function, and the
// attach point's facts decide.
func (a *Availability) ruleAt(p Place, kernel Version) (ruling, Gap) {
	if !kernel.IsZero() {
		if r, g := a.presence(kernel); r != offered {
			return r, g
		}
	}
	return p.Point.rule(kernel)
}

// explainAt says in a sentence how the attach-point facts of p rule the function called name on
// kernel; verb says how it is offered ("offered to", "callable from").
func (a *Availability) explainAt(name, verb string, r ruling, gap Gap, p Place, kernel Version) string {
	at := p.Section.Name
	if at != p.Key {
		at += " (facts of " + p.Key + ")"
	}
	switch r {
	case offered:
		if kernel.IsZero() {
			return fmt.Sprintf("%s is %s %s; evidence: %s", name, verb, at, p.Point.Evidence)
		}
		return fmt.Sprintf("%s is %s %s on %s; evidence: %s", name, verb, at, kernel, p.Point.Evidence)
	case refusedAt:
		return fmt.Sprintf("%s is not %s %s, although %s programs may call it; evidence: %s", name, verb, at, p.ProgType(), p.Point.Evidence)
	case beforeSince:
		return fmt.Sprintf("%s reached %s in %s, newer than %s; evidence: %s", name, at, p.Point.Since, kernel, p.Point.Evidence)
	case inGap:
		return fmt.Sprintf("%s was withdrawn from %s in %s, which includes %s; evidence: %s", name, at, gap, kernel, p.Point.Evidence)
	case afterUntil:
		return fmt.Sprintf("%s was withdrawn from %s after %s; evidence: %s", name, at, p.Point.Until, p.Point.Evidence)
	}
	return a.explain(name, verb, r, gap, p.ProgType(), kernel)
}

// DifferingPoints returns, sorted, the attach points of progType whose facts answer otherwise
// than the program type's own on kernel (a zero kernel: any kernel): what an answer for the bare
// program type names, so that nobody takes it for every attachment's.
func (a *Availability) DifferingPoints(progType string, kernel Version) []string {
	base := a.OfferedTo(progType, kernel)
	var out []string
	for _, key := range sortedKeys(a.AttachPoints) {
		s, err := section.Parse(key)
		if err != nil || s.ProgType != progType {
			continue
		}
		if r, _ := a.ruleAt(Place{Section: s, Key: key, Point: a.AttachPoints[key]}, kernel); (r == offered) != base {
			out = append(out, key)
		}
	}
	return out
}

// describePoints adds the attach-point facts, when there are any, to an entry's description.
func (a *Availability) describePoints(b *strings.Builder) {
	if len(a.AttachPoints) == 0 {
		return
	}
	fmt.Fprintf(b, "  attach points:\n")
	for _, key := range sortedKeys(a.AttachPoints) {
		fmt.Fprintf(b, "    %s: %s\n", key, a.AttachPoints[key])
	}
}

// answerNote is the note of an answer at p on kernel: the place's own (an attach point answered
// for its program type), or, for a bare program type, the attach points of the type whose facts
// answer otherwise.
func (a *Availability) answerNote(p Place, kernel Version) string {
	if p.Note != "" || !BareProgType(p.Section.Name) {
		return p.Note
	}
	if ds := a.DifferingPoints(p.ProgType(), kernel); len(ds) > 0 {
		return fmt.Sprintf("answered for the default attachment of %s programs; the answer differs at: %s", p.ProgType(), strings.Join(ds, ", "))
	}
	return ""
}
