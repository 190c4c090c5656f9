package verdict

import (
	"fmt"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// What helpers and kfuncs share: an entry is offered from some release to some program types,
// and kernels either have it or not and offer it to a type or not. This file judges that once
// for both; verdict.go adds a helper's own claims (id, signature, argument kinds, GPL,
// sleepable), kfunc.go says how a kernel shows it has a kfunc.

// Availability judges an entry's availability: whether kernels have it from the release the
// registry names, and, per program type, whether they offer it exactly as the registry says.
// Helper and kfunc verdicts both hold one.
type Availability struct {
	// Category is the entry's category in the registry, carried for the views that group by
	// it.
	Category string `json:"category,omitempty"`
	// Verdict is contradicted when anything is, no_evidence when no kernel said anything, and
	// else the existence verdict.
	Verdict Word `json:"verdict"`
	// Existence judges min_kernel from whether kernels have the entry at all.
	Existence TypeVerdict `json:"existence"`
	// Types judges each declared program type, then each missing one.
	Types []TypeVerdict `json:"prog_types"`
	// MissingProgTypes lists the types kernels offer the entry to that the registry omits.
	MissingProgTypes []string `json:"missing_prog_types,omitempty"`
	// Problems lists every contradiction in one sentence each, for people and test failures.
	Problems []string `json:"problems,omitempty"`
	// Findings are the contradictions grouped by reason: one per distinct finding.
	Findings []Finding `json:"findings,omitempty"`
	// AttachPoints judges each attach point the entry records facts for (attach_points), in
	// key order.
	AttachPoints []PointVerdict `json:"attach_points,omitempty"`
}

// subject is what the shared judgement needs of one entry, helper or kfunc.
type subject struct {
	category string
	// kind and name name the entry as registry.ArchDifference does, for Kernel.Expect.
	kind      registry.FunctionKind
	name      string
	minKernel registry.Version
	progTypes registry.ProgTypes
	since     map[string]registry.Version
	// offeredTo and exists say what the registry declares for a type and release, and
	// whether a release has the entry at all.
	offeredTo func(string, registry.Version) bool
	exists    func(registry.Version) bool
	// answered holds, per kernel, the entry's answers by program type.
	answered []map[string][]observation.Result
	// known fills the existence cell of a kernel that did not fail.
	known func(i int, k Kernel, c *Cell)
	// fill fills a program type's cell of a kernel that did not fail from its answers.
	fill func(k Kernel, c *Cell, rs []observation.Result)
	// skipObserved names a type that is never reported as missing (helpers: ext).
	skipObserved string
	// entry holds the entry's attach point facts.
	entry *registry.Availability
}

// judgeAvailability judges an entry's existence and program types against kernels sorted by
// version.
func judgeAvailability(s subject, ks []Kernel) Availability {
	a := Availability{Category: s.category}
	a.Existence = judgeTypeCells("", true, ks, func(_ string, k Kernel) bool { return s.exists(k.Version) }, s.minKernel,
		func(i int, k Kernel, c *Cell) { s.known(i, k, c) })
	typeCells := func(t string) func(int, Kernel, *Cell) {
		return func(i int, k Kernel, c *Cell) { s.fill(k, c, s.answered[i][t]) }
	}
	offeredTo := func(t string, k Kernel) bool {
		return declaredFor(k, s.kind, s.name, t, s.offeredTo(t, k.Version))
	}
	declared, observedOnly := typesToJudge(s.progTypes, s.answered)
	for _, t := range declared {
		a.Types = append(a.Types, judgeTypeCells(t, true, ks, offeredTo, firstRelease(s.minKernel, s.since, t), typeCells(t)))
	}
	for _, t := range observedOnly {
		if t == s.skipObserved {
			continue
		}
		tv := judgeTypeCells(t, false, ks, offeredTo, firstRelease(s.minKernel, s.since, t), typeCells(t))
		if tv.FirstOffered == "" {
			continue // refused everywhere, as the registry says: nothing to show
		}
		a.Types = append(a.Types, tv)
		a.MissingProgTypes = append(a.MissingProgTypes, t)
	}
	a.AttachPoints = judgePoints(s, ks)
	return a
}

// contradiction is one contradicted claim beyond availability: what it concerns, its problem
// line and its reason.
type contradiction struct{ subject, problem, reason string }

// finish sets the entry's problems, findings and verdict from its availability and its other
// contradicted claims, in that order.
func (a *Availability) finish(existencePrefix string, others []contradiction) {
	var cs []contradiction
	if a.Existence.Verdict == Contradicted {
		cs = append(cs, contradiction{"min_kernel", existencePrefix + a.Existence.Reason, a.Existence.Reason})
	}
	for _, tv := range a.Types {
		if tv.Verdict == Contradicted {
			cs = append(cs, contradiction{tv.ProgType, tv.ProgType + ": " + tv.Reason, tv.Reason})
		}
	}
	cs = append(cs, pointProblems(a.AttachPoints)...)
	cs = append(cs, others...)
	for _, c := range cs {
		a.Problems = append(a.Problems, c.problem)
	}
	a.Findings = findings(cs)
	if len(a.Problems) > 0 {
		a.Verdict = Contradicted
	} else {
		a.Verdict = a.Existence.Verdict
	}
}

// Overview is how the existence cell of kernel i is shown where one cell stands for all the
// entry's program types, with the number of types the kernel offers the entry to. A kernel
// that has the entry but offers it to no type probed here is not painted as offering it.
func (a Availability) Overview(i int) (Shade, int) {
	c := a.Existence.Cells[i]
	offered := 0
	for _, tv := range a.Types {
		if i < len(tv.Cells) && tv.Cells[i].State == StateOffered {
			offered++
		}
	}
	if c.State == StateOffered && offered == 0 {
		return ShadeKnownNoType, 0
	}
	return c.Shade(), offered
}

// byEntry maps kernel position, entry key (a helper's id, a kfunc's name) and program type to
// that kernel's answers.
type byEntry[K comparable] []map[K]map[string][]observation.Result

// indexAnswers indexes the kernels' answers by the entry key keyOf gives, skipping answers
// for which it gives none.
func indexAnswers[K comparable](ks []Kernel, keyOf func(observation.Result) (K, bool)) byEntry[K] {
	idx := make(byEntry[K], len(ks))
	for i, k := range ks {
		m := map[K]map[string][]observation.Result{}
		for _, r := range k.Results {
			key, ok := keyOf(r)
			if !ok {
				continue
			}
			if m[key] == nil {
				m[key] = map[string][]observation.Result{}
			}
			m[key][r.ProgType] = append(m[key][r.ProgType], r)
		}
		idx[i] = m
	}
	return idx
}

// of returns, per kernel, the answers of one entry by program type.
func (idx byEntry[K]) of(key K) []map[string][]observation.Result {
	out := make([]map[string][]observation.Result, len(idx))
	for i := range idx {
		out[i] = idx[i][key]
	}
	return out
}

// byVersion returns the kernels oldest first; two with the same version keep their order.
func byVersion(kernels []Kernel) []Kernel {
	ks := append([]Kernel(nil), kernels...)
	sort.SliceStable(ks, func(i, j int) bool { return ks[i].Version.Less(ks[j].Version) })
	return ks
}

// TypeVerdict judges one helper in one program type across kernels.
type TypeVerdict struct {
	ProgType string `json:"prog_type"`
	// Declared is true when the registry lists the type for the helper; false for a type the
	// registry omits but some kernel offers (a missing program type).
	Declared bool `json:"declared"`
	Verdict  Word `json:"verdict"`
	// FirstOffered and LastOffered name the first and last kernels that offer the helper; a
	// history with a gap (offered, withdrawn, offered again) is shown as it is in Cells.
	FirstOffered string `json:"first_offered,omitempty"`
	LastOffered  string `json:"last_offered,omitempty"`
	// After and Before bound the first release, for an interval verdict: the newest kernel
	// that refuses before the first one that offers.
	After  string `json:"after,omitempty"`
	Before string `json:"before,omitempty"`
	// Reason explains the verdict in one sentence.
	Reason string `json:"reason"`
	Cells  []Cell `json:"cells"`
}

// decide fills in a TypeVerdict's verdict from its cells. first is the release the registry names
// as the first that offers (min_kernel, or prog_type_since).
func decide(tv *TypeVerdict, first registry.Version) {
	var ev []int // indexes of cells with evidence
	for i, c := range tv.Cells {
		if c.State.evidence() {
			ev = append(ev, i)
		}
	}
	firstOff, lastOff := -1, -1
	for _, i := range ev {
		if tv.Cells[i].State == StateOffered {
			if firstOff < 0 {
				firstOff = i
			}
			lastOff = i
		}
	}
	if firstOff >= 0 {
		tv.FirstOffered, tv.LastOffered = tv.Cells[firstOff].Kernel, tv.Cells[lastOff].Kernel
	}
	var bad []Cell
	for _, i := range ev {
		if tv.Cells[i].Contradicts() {
			bad = append(bad, tv.Cells[i])
		}
	}
	switch {
	case len(ev) == 0:
		tv.Verdict, tv.Reason = NoEvidence, "no kernel gave an answer (failed, inconclusive or type absent)"
	case len(bad) > 0:
		tv.Verdict, tv.Reason = Contradicted, explain(tv, bad, first)
	case firstOff < 0 && !tv.Declared:
		tv.Verdict, tv.Reason = Confirmed, "refused by every kernel, as the registry says"
	case firstOff < 0:
		tv.Verdict = Consistent
		tv.Reason = fmt.Sprintf("refused by every tested kernel, all older than %s as declared; the first release itself is untested", first)
	case lastOff < ev[len(ev)-1]:
		tv.Verdict = Withdrawn
		tv.Reason = fmt.Sprintf("offered from %s to %s, refused after that, as declared", tv.FirstOffered, tv.LastOffered)
	case firstOff == ev[0]:
		tv.Verdict = Consistent
		tv.Reason = fmt.Sprintf("offered on every kernel from %s on; declared %s is older than any kernel tested, so the lower bound is untested", tv.FirstOffered, first)
	default:
		prev := tv.Cells[previousEvidence(ev, firstOff)]
		cur := tv.Cells[firstOff]
		tv.After, tv.Before = prev.Kernel, cur.Kernel
		curV, _ := registry.ParseVersion(cur.Version)
		if curV.Series() == first.Series() {
			tv.Verdict = Confirmed
			tv.Reason = fmt.Sprintf("first offered on %s as declared (%s); %s refuses it", cur.Kernel, first, prev.Kernel)
		} else {
			tv.Verdict = Interval
			tv.Reason = fmt.Sprintf("first release lies after %s and at or before %s; declared %s is in that interval", prev.Kernel, cur.Kernel, first)
		}
	}
}

func previousEvidence(ev []int, i int) int {
	p := -1
	for _, j := range ev {
		if j < i {
			p = j
		}
	}
	return p
}

// explain words a contradiction: the kernels that disagree, what was declared and observed, and
// the decisive verifier line of the first such kernel.
func explain(tv *TypeVerdict, bad []Cell, first registry.Version) string {
	var offered, refused []string
	for _, c := range bad {
		if c.State == StateOffered {
			offered = append(offered, c.Kernel)
		} else {
			refused = append(refused, c.Kernel)
		}
	}
	var parts []string
	if len(refused) > 0 {
		c := cellOf(tv, refused[0])
		answer := "refused"
		if c.State == StateUnknown {
			answer = "unknown id"
		}
		lastEv, allRefuse := "", true
		for _, c := range tv.Cells {
			if c.State.evidence() {
				lastEv = c.Kernel
				allRefuse = allRefuse && c.State != StateOffered
			}
		}
		if allRefuse {
			parts = append(parts, fmt.Sprintf("declared from %s, but %s on every kernel up to %s (%s)", first, answer, lastEv, c.Detail))
		} else {
			parts = append(parts, fmt.Sprintf("declared, but %s on %s (%s)", answer, strings.Join(refused, ", "), c.Detail))
		}
	}
	if len(offered) > 0 {
		c := cellOf(tv, offered[0])
		if tv.Declared {
			parts = append(parts, fmt.Sprintf("declared from %s, but %s %s it (%s)", first, strings.Join(offered, ", "), verb(len(offered)), c.Detail))
		} else {
			parts = append(parts, fmt.Sprintf("not declared, but %s %s it (%s)", strings.Join(offered, ", "), verb(len(offered)), c.Detail))
		}
	}
	if tv.FirstOffered != "" && tv.LastOffered != "" {
		parts = append(parts, fmt.Sprintf("offered from %s to %s", tv.FirstOffered, tv.LastOffered))
	}
	return strings.Join(parts, "; ")
}

func cellOf(tv *TypeVerdict, kernel string) Cell {
	for _, c := range tv.Cells {
		if c.Kernel == kernel {
			return c
		}
	}
	return Cell{}
}

// verb is "offers" after one kernel's name and "offer" after a list.
func verb(n int) string {
	if n == 1 {
		return "offers"
	}
	return "offer"
}

// typesToJudge returns the program types an entry declares, in the kernel's order, and then,
// sorted, the others some kernel answered for (answered holds one kernel's answers for the
// entry by program type).
func typesToJudge(declares registry.ProgTypes, answered []map[string][]observation.Result) (declared, observedOnly []string) {
	seen := map[string]bool{}
	for _, t := range registry.ProgTypeNames() {
		if declares.Contains(t) {
			declared = append(declared, t)
			seen[t] = true
		}
	}
	for _, byType := range answered {
		for t := range byType {
			if !seen[t] {
				seen[t] = true
				observedOnly = append(observedOnly, t)
			}
		}
	}
	sort.Strings(observedOnly)
	return declared, observedOnly
}

// judgeTypeCells builds one program type's verdict for an entry: a cell per kernel, declared as
// offeredTo says of the type on that kernel, a failed kernel's cell failed and the others filled by fill, decided against
// the entry's first release for the type.
func judgeTypeCells(progType string, declared bool, ks []Kernel, offeredTo func(string, Kernel) bool, first registry.Version, fill func(i int, k Kernel, c *Cell)) TypeVerdict {
	tv := TypeVerdict{ProgType: progType, Declared: declared}
	for i, k := range ks {
		c := Cell{Kernel: k.Name, Version: k.Version.String(), Declared: offeredTo(progType, k)}
		if k.Failed {
			c.State, c.Detail = StateFailed, k.Error
		} else {
			fill(i, k, &c)
		}
		tv.Cells = append(tv.Cells, c)
	}
	decide(&tv, first)
	return tv
}

// firstRelease is an entry's first release for a program type: its own, or the type's since.
func firstRelease(minKernel registry.Version, since map[string]registry.Version, progType string) registry.Version {
	if v, ok := since[progType]; ok {
		return v
	}
	return minKernel
}
