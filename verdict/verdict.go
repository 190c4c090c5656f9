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
	// Expect, when set, replaces the registry's claim where it answers (ArchExpectation: the
	// recorded answers of a kernel built for another architecture than amd64); nil judges
	// every answer against the registry.
	Expect Expectation `json:"-"`
}

// HelperVerdict judges one registry entry: its availability, and the claims only a helper
// makes (id and name, signature, argument kinds, GPL flag, sleepability).
type HelperVerdict struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	// Entry names an entry of another library's table (EDN, JSON) as its author wrote it,
	// with its place.
	Entry string `json:"entry,omitempty"`
	Availability
	// GPL judges gpl_only; empty when no kernel could tell.
	GPL *GPLVerdict `json:"gpl,omitempty"`
	// Claims judges the entry's other claims against the kernels' own definitions: id and
	// name, signature, attach_types, sleepable_only.
	Claims []ClaimVerdict `json:"claims,omitempty"`
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
	ks := byVersion(kernels)
	idx := index(ks)
	var out []HelperVerdict
	for _, h := range helpers {
		out = append(out, judgeHelper(h, prov, ks, idx))
	}
	return out
}

// resultIndex maps kernel position, helper id and program type to that kernel's answers.
type resultIndex = byEntry[int]

func index(ks []Kernel) resultIndex {
	return indexAnswers(ks, func(r observation.Result) (int, bool) { return r.HelperID, true })
}

// inheritingType is the program type whose helpers are those of another type: an extension
// (freplace) program gets the helper set of the program it replaces (the probe's target is an
// XDP program). A registry need not list it; when it does, it is judged like any other type.
const inheritingType = "ext"

// helperSubject is what the shared judgement needs of a helper: a kernel knows its id when any
// answer got past the id lookup, and a refusal by a kernel built without the helper's
// kernel_config says nothing.
func helperSubject(h *registry.Helper, idx resultIndex) subject {
	return subject{
		category: h.Category, minKernel: h.MinKernel, progTypes: h.ProgTypes, since: h.ProgTypeSince,
		kind: registry.KindHelper, name: "bpf_" + h.Name,
		offeredTo:    h.OfferedTo,
		entry:        &h.Availability,
		exists:       func(v registry.Version) bool { return !v.Less(h.MinKernel) },
		answered:     idx.of(h.ID),
		known:        func(i int, _ Kernel, c *Cell) { knowsID(c, idx[i][h.ID]) },
		fill:         func(k Kernel, c *Cell, rs []observation.Result) { mergeVariants(c, rs); discountConfig(c, h, k) },
		skipObserved: inheritingType,
	}
}

func judgeHelper(h *registry.Helper, prov *foreign.Provenance, ks []Kernel, idx resultIndex) HelperVerdict {
	hv := HelperVerdict{ID: h.ID, Name: h.Name}
	hv.Availability = judgeAvailability(helperSubject(h, idx), ks)
	// A foreign table's entry claims only what its author wrote: the rest is not judged.
	if prov.Foreign() {
		hv.Entry = prov.WrittenAs(h)
	}
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

	var others []contradiction
	if hv.GPL != nil && hv.GPL.Verdict == Contradicted {
		others = append(others, contradiction{"gpl_only", "gpl_only: " + hv.GPL.Evidence, hv.GPL.Evidence})
	}
	hv.finish("", append(others, claimProblems(hv.Claims)...))
	return hv
}

// knowsID fills a kernel's existence cell for a helper from its answers: the kernel knows the
// id when any answer got past the id lookup, and does not when it answered "unknown id".
func knowsID(c *Cell, byType map[string][]observation.Result) {
	c.State, c.Detail = StateNoEvidence, "no answer for this id"
	for _, rs := range sortedTypes(byType) {
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
			return
		}
	}
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
