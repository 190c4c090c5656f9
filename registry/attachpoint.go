package registry

import (
	"encoding/json"
	"fmt"
	"maps"
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
	return p.Claim() + " (evidence: " + p.Evidence + ")"
}

// Claim renders the facts of the attach point without their evidence: what a verdict judges.
func (p AttachPoint) Claim() string {
	var parts []string
	if p.Refused {
		parts = append(parts, "not offered")
	}
	parts = append(parts, p.words()...)
	if len(parts) == 0 {
		parts = append(parts, "offered")
	}
	return strings.Join(parts, ", ")
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
// attach-point facts: the first key of the section's chain (PointChain) that has facts answers
// (the key with its target or struct_ops member, then its struct_ops kind, then its prefix, then,
// where that prefix loads as the bare type, the key of the type's default attachment), else the
// program type's facts. A bare program type, or a section loading exactly as one, asks for the
// type's default attachment: its facts when recorded, else the type's. A name package section
// cannot read is an error wrapping its *section.Error (and ErrUnknownProgType, as before section
// names were asked, when the name has no '/').
func (a *Availability) Locate(where string) (Place, error) {
	s, err := parseWhere(where)
	if err != nil {
		return Place{}, err
	}
	p := Place{Section: s}
	chain := PointChain(s)
	for _, key := range chain {
		if pt, ok := a.AttachPoints[key]; ok {
			p.Key, p.Point = key, pt
			return p, nil
		}
	}
	if chain[0] != s.ProgType {
		p.Note = fmt.Sprintf("no facts recorded for %s: it answers as its program type %s (facts are recorded only where an attach point answers otherwise than its parent)",
			chain[0], s.ProgType)
	}
	return p, nil
}

// UncheckedStructOps is what an answer's note adds for a struct_ops section naming a kind or
// member when no struct_ops table (StructOps) lists kinds to check it against: that nothing told
// whether some kernel has it. "" for any other section.
func UncheckedStructOps(s section.Section) string {
	if s.TargetKind != section.StructOpsMember || s.Target == "" {
		return ""
	}
	return fmt.Sprintf("; no struct_ops table lists the kernels' kinds and members, so %s is not checked to exist", s.Target)
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

// PointChain returns the attach-point keys whose facts may answer for s, most specific first:
// the section's key (with its target or struct_ops member), its struct_ops kind, its prefix,
// each spelled as the registry keys it. A key that loads exactly as the bare program type (the
// prefix of fentry/X, kprobe/X, lsm/X) is the type's name, which names the type's default
// attachment; a bare type or a section loading as one has that key alone. After the chain come
// the program type's facts (prog_types and prog_type_*). Locate, sync and verdict walk it alike.
// A struct_ops section whose target has no '.' keys by that target as a kind
// ("struct_ops/Qdisc_ops"): libbpf would read it as the program's own name, but only a kind can
// have facts.
func PointChain(s section.Section) []string {
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
		if b, err := section.Parse(k); err == nil && defaultAttachment(b) {
			k = b.ProgType
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// ParentChain returns the keys up the chain of the attach point key (PointChain without the key
// itself), most specific first: the keys whose facts answer for it when it has none, before the
// program type's facts. A key equal to its program type's name (the default attachment) has
// none. A key that is no canonical attach-point key is an error.
func ParentChain(key string) ([]string, error) {
	s, err := section.Parse(key)
	if err != nil {
		return nil, err
	}
	chain := PointChain(s)
	if chain[0] != key {
		return nil, fmt.Errorf("attach point %q: its canonical key is %q", key, chain[0])
	}
	return chain[1:], nil
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
// section key (section.Section.Key), for a struct_ops kind as a whole "struct_ops/KIND", and for
// a section loading exactly as its bare program type, the type's name (its default attachment).
func AttachPointKey(s section.Section) string { return PointChain(s)[0] }

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
	}
	return p.Span.rule(kernel)
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
		others := p.ProgType() + " programs"
		if p.Key == p.ProgType() {
			others += " attached elsewhere"
		}
		return fmt.Sprintf("%s is not %s %s, although %s may call it; evidence: %s", name, verb, at, others, p.Point.Evidence)
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
// than the type's default attachment on kernel (a zero kernel: any kernel): what an answer for
// the bare program type names, so that nobody takes it for every attachment's. The default
// attachment answers from its own facts (the key named progType) when recorded, else from the
// program type's.
func (a *Availability) DifferingPoints(progType string, kernel Version) []string {
	base := a.defaultOffered(progType, kernel)
	var out []string
	for _, key := range slices.Sorted(maps.Keys(a.AttachPoints)) {
		s, err := section.Parse(key)
		if err != nil || s.ProgType != progType || key == progType {
			continue
		}
		if r, _ := a.ruleAt(Place{Section: s, Key: key, Point: a.AttachPoints[key]}, kernel); (r == offered) != base {
			out = append(out, key)
		}
	}
	return out
}

// defaultOffered reports whether the default attachment of progType offers the function on
// kernel: by its own facts when recorded, else by the program type's.
func (a *Availability) defaultOffered(progType string, kernel Version) bool {
	p, ok := a.AttachPoints[progType]
	if !ok {
		return a.OfferedTo(progType, kernel)
	}
	s, err := section.Parse(progType)
	if err != nil {
		return false
	}
	r, _ := a.ruleAt(Place{Section: s, Key: progType, Point: p}, kernel)
	return r == offered
}

// PointOffered reports whether the recorded facts of the attach point key offer the function on
// kernel (a zero kernel: any kernel), the kernel's presence of the function included; false for
// a key without facts. Verdicts judge each recorded claim with it.
func (a *Availability) PointOffered(key string, kernel Version) bool {
	p, ok := a.AttachPoints[key]
	if !ok {
		return false
	}
	s, err := section.Parse(key)
	if err != nil {
		return false
	}
	r, _ := a.ruleAt(Place{Section: s, Key: key, Point: p}, kernel)
	return r == offered
}

// describePoints adds the attach-point facts, when there are any, to an entry's description.
func (a *Availability) describePoints(b *strings.Builder) {
	if len(a.AttachPoints) == 0 {
		return
	}
	fmt.Fprintf(b, "  attach points:\n")
	for _, key := range slices.Sorted(maps.Keys(a.AttachPoints)) {
		fmt.Fprintf(b, "    %s: %s\n", key, a.AttachPoints[key])
	}
}

// answerNote is the note of an answer at p on kernel: the place's own (an attach point answered
// for its program type), or, for the type's default attachment (a bare program type, or a
// section loading as one), the attach points of the type that answer otherwise and, when the
// default attachment has facts of its own that differ from the type's, that the type's other
// attachments answer from prog_types.
func (a *Availability) answerNote(p Place, kernel Version) string {
	t := p.ProgType()
	if p.Note != "" || PointChain(p.Section)[0] != t {
		return p.Note
	}
	var parts []string
	if p.Key == t {
		if typeOK := a.OfferedTo(t, kernel); typeOK != a.defaultOffered(t, kernel) {
			parts = append(parts, fmt.Sprintf("answered from the facts of %s's default attachment; %s programs attached elsewhere answer from the program type's facts, which say %s",
				t, t, offeredWord(typeOK)))
		}
	}
	if ds := a.DifferingPoints(t, kernel); len(ds) > 0 {
		parts = append(parts, fmt.Sprintf("answered for the default attachment of %s programs; the answer differs at: %s", t, strings.Join(ds, ", ")))
	}
	return strings.Join(parts, "; ")
}

// offeredWord is how a note words an answer.
func offeredWord(ok bool) string {
	if ok {
		return "offered"
	}
	return "not offered"
}
