// Package verdict compares the registry with what kernels said. It is a pure function of a
// registry and a set of per-kernel observations: no I/O, no clock, so that a registry edit can be
// re-judged from cached observations in milliseconds and the same inputs always give the same
// report.
//
// For every helper the package judges two things:
//   - existence: is min_kernel right? Each kernel either knows the helper's id or answers
//     "unknown id";
//   - each program type: does the kernel offer the helper to that type exactly when the registry
//     says so (min_kernel, prog_types, prog_type_since, prog_type_until)?
//
// A kernel offers a helper to a program type when any attach variant of that type answered
// supported, gpl_only, not_for_target or sleepable_only; unknown_id and not_for_type are
// refusals; inconclusive and unclassified answers, absent program types and failed kernels are
// no evidence either way, and are never counted as "unsupported".
package verdict

import (
	"fmt"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/registry/foreign"
)

// Word is a verdict, as it appears in JSON reports.
type Word string

// Verdict words. Their meaning is documented in README.md; reports and CI gates depend on them.
const (
	// Confirmed: the first tested kernel that offers the helper is the one the registry names,
	// and every older tested kernel refuses it.
	Confirmed Word = "confirmed"
	// Contradicted: some kernel did something else than the registry says.
	Contradicted Word = "contradicted"
	// Consistent: every kernel agrees with the registry, but the registry's lower bound lies at or
	// before the oldest kernel that gave evidence, so that bound itself is untested.
	Consistent Word = "consistent"
	// Interval: the observations pin the first release between two tested kernels, and the
	// registry's version lies in that interval.
	Interval Word = "interval"
	// Withdrawn: offered, then refused from some kernel on, as the registry's prog_type_until says.
	Withdrawn Word = "withdrawn"
	// NoEvidence: no kernel gave a usable answer (all failed, inconclusive or absent).
	NoEvidence Word = "no_evidence"
)

// Kernel is one kernel's observations: the probe results of its guest, or the failure that
// kept it from giving any.
type Kernel struct {
	// Name is the kernel's name in kernels.yaml (e.g. "6.12").
	Name string
	// Version is its upstream version (e.g. 6.12.117); verdicts order kernels by it.
	Version registry.Version
	// Failed marks a kernel whose guest did not deliver a complete result stream.
	Failed bool
	// Error says why it failed.
	Error string
	// Results are the probe's answers, one per (helper id, program type variant).
	Results []observation.Result
	// Facts are the probe's facts about the kernel: its own helper definitions (BTF) and
	// how each attach variant was loaded.
	Facts observation.Facts `json:"-"`
	// Config holds the build options set in the kernel's config; nil when the config is
	// unknown. A helper whose registry entry names kernel_config options is refused, with no
	// fault of the registry, by a kernel built without them.
	Config map[string]bool
}

// State is what one kernel said about one helper in one program type, variants merged.
type State string

// Cell states.
const (
	StateOffered    State = "offered"     // some variant offers it
	StateRefused    State = "refused"     // every variant refuses it (not_for_type)
	StateUnknown    State = "unknown_id"  // the kernel does not know the id
	StateNoEvidence State = "no_evidence" // inconclusive, absent type, or no answer
	StateFailed     State = "failed"      // the kernel failed; nothing it said counts
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
	// offered it plainly: "gpl_only", "sleepable_only", "not_for_target".
	Conditions []string `json:"conditions,omitempty"`
	// Detail is the decisive verifier line or error of the cell's state.
	Detail   string          `json:"detail,omitempty"`
	Variants []VariantAnswer `json:"variants,omitempty"`
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

// HelperVerdict judges one registry entry.
type HelperVerdict struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	// Entry names an entry of another library's table (EDN, JSON) as its author wrote it,
	// with its place.
	Entry string `json:"entry,omitempty"`
	// Verdict is contradicted when anything is, no_evidence when no kernel said anything, and
	// else the existence verdict.
	Verdict Word `json:"verdict"`
	// Existence judges min_kernel from whether kernels know the id at all.
	Existence TypeVerdict `json:"existence"`
	// Types judges each declared program type, then each missing one.
	Types []TypeVerdict `json:"prog_types"`
	// MissingProgTypes lists the types kernels offer the helper to that the registry omits.
	MissingProgTypes []string `json:"missing_prog_types,omitempty"`
	// GPL judges gpl_only; empty when no kernel could tell.
	GPL *GPLVerdict `json:"gpl,omitempty"`
	// Claims judges the entry's other claims against the kernels' own definitions: id and
	// name, signature, attach_types, sleepable_only.
	Claims []ClaimVerdict `json:"claims,omitempty"`
	// Problems lists every contradiction in one sentence each, for people and test failures.
	Problems []string `json:"problems,omitempty"`
	// Findings are the contradictions grouped by reason: one per distinct finding.
	Findings []Finding `json:"findings,omitempty"`
}

// GPLVerdict compares gpl_only with what kernels said to non-GPL programs.
type GPLVerdict struct {
	Declared bool `json:"declared"`
	// Observed is true when some kernel refused the helper to a non-GPL program only.
	Observed bool   `json:"observed"`
	Verdict  Word   `json:"verdict"`
	Evidence string `json:"evidence,omitempty"`
}

// Judge computes the verdicts of every registry entry against kernels. Kernels may come in any
// order; two kernels with the same version are both kept. Helpers are returned in id order.
// prov says which facts the entries of a foreign table state; only those are judged. A nil prov
// (our own YAML) states every fact.
func Judge(reg *registry.Registry, prov *foreign.Provenance, kernels []Kernel) []HelperVerdict {
	return JudgeHelpers(reg.Helpers(), prov, kernels)
}

// JudgeHelpers computes the verdicts of the given entries only, in the order given: what
// `verify NAME` needs, without judging the whole table.
func JudgeHelpers(helpers []*registry.Helper, prov *foreign.Provenance, kernels []Kernel) []HelperVerdict {
	ks := append([]Kernel(nil), kernels...)
	sort.SliceStable(ks, func(i, j int) bool { return ks[i].Version.Less(ks[j].Version) })
	idx := index(ks)
	var out []HelperVerdict
	for _, h := range helpers {
		out = append(out, judgeHelper(h, prov, ks, idx))
	}
	return out
}

// resultIndex maps kernel position, helper id and program type to that kernel's answers.
type resultIndex []map[int]map[string][]observation.Result

func index(ks []Kernel) resultIndex {
	idx := make(resultIndex, len(ks))
	for i, k := range ks {
		m := map[int]map[string][]observation.Result{}
		for _, r := range k.Results {
			if m[r.HelperID] == nil {
				m[r.HelperID] = map[string][]observation.Result{}
			}
			m[r.HelperID][r.ProgType] = append(m[r.HelperID][r.ProgType], r)
		}
		idx[i] = m
	}
	return idx
}

// inheritingType is the program type whose helpers are those of another type: an extension
// (freplace) program gets the helper set of the program it replaces (the probe's target is an
// XDP program). A registry need not list it; when it does, it is judged like any other type.
const inheritingType = "ext"

func judgeHelper(h *registry.Helper, prov *foreign.Provenance, ks []Kernel, idx resultIndex) HelperVerdict {
	hv := HelperVerdict{ID: h.ID, Name: h.Name}
	if prov.Foreign() {
		hv.Entry = prov.WrittenAs(h)
	}
	hv.Existence = judgeExistence(h, ks, idx)

	answered := make([]map[string][]observation.Result, len(ks))
	for i := range ks {
		answered[i] = idx[i][h.ID]
	}
	types, observedOnly := typesToJudge(h.ProgTypes, answered)
	for _, t := range types {
		hv.Types = append(hv.Types, judgeType(h, t, true, ks, idx))
	}
	for _, t := range observedOnly {
		if t == inheritingType {
			continue
		}
		tv := judgeType(h, t, false, ks, idx)
		if tv.FirstOffered == "" {
			continue // refused everywhere, as the registry says: nothing to show
		}
		hv.Types = append(hv.Types, tv)
		hv.MissingProgTypes = append(hv.MissingProgTypes, t)
	}
	// A foreign table's entry claims only what its author wrote: the rest is not judged.
	if prov.Claimed(h, "gpl_only") {
		hv.GPL = judgeGPL(h, ks, idx)
	}
	hv.Claims = []ClaimVerdict{judgeIdentity(h, ks)}
	if prov.Claimed(h, "signature") {
		hv.Claims = append(hv.Claims, judgeSignature(h, ks), judgeArgKinds(h, ks))
	}
	if cv, ok := judgeAttachTypes(h, ks, idx); ok {
		hv.Claims = append(hv.Claims, cv)
	}
	if prov.Claimed(h, "sleepable_only") {
		hv.Claims = append(hv.Claims, judgeSleepable(h, ks, idx))
	}

	if hv.Existence.Verdict == Contradicted {
		hv.Problems = append(hv.Problems, hv.Existence.Reason)
	}
	for _, tv := range hv.Types {
		if tv.Verdict == Contradicted {
			hv.Problems = append(hv.Problems, tv.ProgType+": "+tv.Reason)
		}
	}
	if hv.GPL != nil && hv.GPL.Verdict == Contradicted {
		hv.Problems = append(hv.Problems, "gpl_only: "+hv.GPL.Evidence)
	}
	hv.Problems = append(hv.Problems, claimProblems(hv.Claims)...)
	hv.Findings = findings(&hv)
	switch {
	case len(hv.Problems) > 0:
		hv.Verdict = Contradicted
	default:
		hv.Verdict = hv.Existence.Verdict
	}
	return hv
}

// judgeExistence decides, per kernel, whether the kernel knows the helper's id at all, and
// compares that with min_kernel.
func judgeExistence(h *registry.Helper, ks []Kernel, idx resultIndex) TypeVerdict {
	tv := TypeVerdict{ProgType: "", Declared: true}
	for i, k := range ks {
		c := Cell{Kernel: k.Name, Version: k.Version.String(), Declared: !k.Version.Less(h.MinKernel)}
		switch {
		case k.Failed:
			c.State, c.Detail = StateFailed, k.Error
		default:
			c.State, c.Detail = StateNoEvidence, "no answer for this id"
			for _, rs := range sortedTypes(idx[i][h.ID]) {
				for _, r := range rs {
					switch r.Outcome {
					case observation.UnknownID:
						if c.State == StateNoEvidence {
							c.State, c.Detail = StateUnknown, r.Detail
						}
					case observation.Inconclusive, observation.Unclassified:
					default:
						// Any answer that got past the id lookup proves the kernel knows it.
						c.State, c.Detail = StateOffered, r.ProgType+"/"+r.Variant+": "+string(r.Outcome)
					}
				}
				if c.State == StateOffered {
					break
				}
			}
		}
		tv.Cells = append(tv.Cells, c)
	}
	decide(&tv, h.MinKernel)
	return tv
}

func sortedTypes(m map[string][]observation.Result) [][]observation.Result {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]observation.Result, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// judgeType builds the cells of one program type and decides its verdict.
func judgeType(h *registry.Helper, progType string, declared bool, ks []Kernel, idx resultIndex) TypeVerdict {
	return judgeTypeCells(progType, declared, ks, h.OfferedTo, firstRelease(h.MinKernel, h.ProgTypeSince, progType),
		func(i int, k Kernel, c *Cell) {
			mergeVariants(c, idx[i][h.ID][progType])
			discountConfig(c, h, k)
		})
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
// offeredTo says, a failed kernel's cell failed and the others filled by fill, decided against
// the entry's first release for the type.
func judgeTypeCells(progType string, declared bool, ks []Kernel, offeredTo func(string, registry.Version) bool, first registry.Version, fill func(i int, k Kernel, c *Cell)) TypeVerdict {
	tv := TypeVerdict{ProgType: progType, Declared: declared}
	for i, k := range ks {
		c := Cell{Kernel: k.Name, Version: k.Version.String(), Declared: offeredTo(progType, k.Version)}
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

// judgeGPL compares gpl_only with the kernels' answers. A gpl_only outcome means a non-GPL
// program was refused the helper while a GPL one was not: proof the helper is GPL-only. The
// probe loads a non-GPL program first, so a supported outcome in a program type that accepts
// non-GPL programs is proof of the opposite.
func judgeGPL(h *registry.Helper, ks []Kernel, idx resultIndex) *GPLVerdict {
	var gplOn, openOn string
	for i, k := range ks {
		if k.Failed {
			continue
		}
		for _, rs := range sortedTypes(idx[i][h.ID]) {
			for _, r := range rs {
				switch {
				case r.Outcome == observation.GPLOnly && gplOn == "":
					gplOn = fmt.Sprintf("%s refuses it to a non-GPL %s/%s program (%s)", k.Name, r.ProgType, r.Variant, r.Detail)
				case r.Outcome == observation.Supported && openOn == "" && acceptsNonGPL(r.ProgType):
					openOn = fmt.Sprintf("%s offers it to a non-GPL %s/%s program", k.Name, r.ProgType, r.Variant)
				}
			}
		}
	}
	switch {
	case gplOn == "" && openOn == "":
		return nil
	case gplOn != "" && openOn != "":
		// Some helpers have one proto per program type with different flags; the registry's
		// single flag cannot be wrong in both directions at once.
		return &GPLVerdict{Declared: h.GPLOnly, Observed: true, Verdict: Consistent, Evidence: "depends on the program type: " + gplOn + "; " + openOn}
	case gplOn != "" && !h.GPLOnly:
		return &GPLVerdict{Declared: false, Observed: true, Verdict: Contradicted, Evidence: "declared false, but " + gplOn}
	case gplOn == "" && h.GPLOnly:
		return &GPLVerdict{Declared: true, Observed: false, Verdict: Contradicted, Evidence: "declared true, but " + openOn}
	case gplOn != "":
		return &GPLVerdict{Declared: true, Observed: true, Verdict: Confirmed, Evidence: gplOn}
	default:
		return &GPLVerdict{Declared: false, Observed: false, Verdict: Confirmed, Evidence: openOn}
	}
}

// acceptsNonGPL reports whether programs of the type load without a GPL-compatible license at
// all. LSM and struct_ops programs must be GPL, so a supported answer there says nothing about
// a helper's own GPL flag.
func acceptsNonGPL(progType string) bool {
	switch progType {
	case "lsm", "struct_ops", "tracing", "ext", "syscall":
		return false
	}
	return true
}

// verb is "offers" after one kernel's name and "offer" after a list.
func verb(n int) string {
	if n == 1 {
		return "offers"
	}
	return "offer"
}

// discountConfig turns a refusal into no evidence when the helper needs build options
// (kernel_config) the kernel lacks, or may lack because its config is unknown: Debian's cloud
// kernels are built without CONFIG_BPF_KPROBE_OVERRIDE, for one, so none of them can say
// whether bpf_override_return is offered to kprobes.
func discountConfig(c *Cell, h *registry.Helper, k Kernel) {
	if c.State != StateRefused || len(h.KernelConfig) == 0 {
		return
	}
	if k.Config == nil {
		c.State = StateNoEvidence
		c.Detail = fmt.Sprintf("refused, but the helper needs %s and this kernel's config is unknown (%s)",
			strings.Join(h.KernelConfig, ", "), c.Detail)
		return
	}
	var missing []string
	for _, opt := range h.KernelConfig {
		if !k.Config[opt] {
			missing = append(missing, opt)
		}
	}
	if len(missing) > 0 {
		c.State = StateNoEvidence
		c.Detail = fmt.Sprintf("kernel built without %s (%s)", strings.Join(missing, ", "), c.Detail)
	}
}
