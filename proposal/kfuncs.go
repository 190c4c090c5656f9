// Package proposal turns observations into proposed registry entries: `bpfmatrix kfuncs sync`
// writes kfuncs.yaml from what the kernels showed, so entries are measured rather than typed by
// guessing. A proposal keeps what people wrote (categories, descriptions, notes, sources other
// than the matrix's) and replaces the facts the kernels decide, each with its evidence.
package proposal

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// kfuncSeen is what the kernels showed of one kfunc.
type kfuncSeen struct {
	present   []bool            // per kernel with kfunc facts
	offered   map[string][]int8 // prog type -> per kernel: 1 offered, -1 refused, 0 no evidence
	prototype string
	module    string
	flags     map[string]bool
}

// Kfuncs proposes the kfunc table: every kfunc any kernel has, with first and last releases,
// gaps, program types and per-type releases from the kernels that recorded kfunc facts (in
// version order; failed kernels say nothing). Releases are series of tested kernels: the real
// first release lies between the proposed one and the previous tested kernel.
func Kfuncs(existing *registry.Kfuncs, kernels []verdict.Kernel) ([]*registry.Kfunc, []Change) {
	ks := usable(kernels)
	seen := collect(ks)
	byName := resultsBy(ks, kfuncOf)
	var out []*registry.Kfunc
	var changes []Change
	for _, name := range sortedNames(seen) {
		s, kept := withEvidence(seen[name], ks)
		p := propose(name, s, kept)
		var old *registry.Kfunc
		if existing != nil {
			old, _ = existing.Lookup(name)
		}
		kfuncPoints(p, old, s, keptResults(byName, ks, kept), kept)
		kfuncConditions(p, old, s, kept)
		changes = append(changes, merge(p, old, presence(s, kept))...)
		out = append(out, p)
	}
	if existing != nil {
		for _, k := range existing.All() {
			if _, ok := seen[k.Name]; !ok {
				out = append(out, k)
				changes = append(changes, Change{Name: k.Name, Kind: Kept, Kernels: []KernelAnswer{}})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, changes
}

// withEvidence narrows what the kernels showed of a module's kfunc to the kernels that say
// something about it: those that have it, and those whose guest loaded its module without it. A
// kernel whose guest did not load the module (its image lacked the module's package, the
// kernel refused it, an older agent loaded none) is silent, not a kernel without the kfunc.
// A vmlinux kfunc is returned as it is.
func withEvidence(s *kfuncSeen, ks []verdict.Kernel) (*kfuncSeen, []verdict.Kernel) {
	if s.module == "" {
		return s, ks
	}
	out := &kfuncSeen{offered: map[string][]int8{}, prototype: s.prototype, module: s.module, flags: s.flags}
	var kept []verdict.Kernel
	for i, k := range ks {
		if !s.present[i] && !verdict.ModuleLoaded(k, s.module) {
			continue
		}
		kept = append(kept, k)
		out.present = append(out.present, s.present[i])
		for t, o := range s.offered {
			out.offered[t] = append(out.offered[t], o[i])
		}
	}
	return out, kept
}

// keptResults are the per-kernel result indexes (byName, aligned with ks) of the kernels kept,
// a subsequence of ks.
func keptResults(byName []map[string][]observation.Result, ks, kept []verdict.Kernel) []map[string][]observation.Result {
	if len(kept) == len(ks) {
		return byName
	}
	out := make([]map[string][]observation.Result, 0, len(kept))
	j := 0
	for i := range ks {
		if j < len(kept) && ks[i].Name == kept[j].Name {
			out = append(out, byName[i])
			j++
		}
	}
	return out
}

// usable are the kernels that answered and recorded kfunc facts, oldest first.
func usable(kernels []verdict.Kernel) []verdict.Kernel {
	var ks []verdict.Kernel
	for _, k := range kernels {
		if !k.Failed && (len(k.Facts.Kfuncs) > 0 || len(k.Facts.KfuncsAbsent) > 0) {
			ks = append(ks, k)
		}
	}
	sort.SliceStable(ks, func(i, j int) bool { return ks[i].Version.Less(ks[j].Version) })
	return ks
}

func collect(ks []verdict.Kernel) map[string]*kfuncSeen {
	seen := map[string]*kfuncSeen{}
	get := func(name string) *kfuncSeen {
		if s, ok := seen[name]; ok {
			return s
		}
		s := &kfuncSeen{present: make([]bool, len(ks)), offered: map[string][]int8{}, flags: map[string]bool{}}
		seen[name] = s
		return s
	}
	for i, k := range ks {
		for _, f := range k.Facts.Kfuncs {
			if present, _ := verdict.KfuncPresent(k, f.Name, f.Module); !present {
				continue
			}
			s := get(f.Name)
			s.present[i] = true
			s.prototype, s.module = f.Prototype, f.Module
			for _, fl := range f.Flags {
				s.flags[fl] = true
			}
		}
		for _, r := range k.Results {
			if r.Kfunc == "" || !seenIn(seen, r.Kfunc, i) {
				continue
			}
			s := seen[r.Kfunc]
			if s.offered[r.ProgType] == nil {
				s.offered[r.ProgType] = make([]int8, len(ks))
			}
			switch {
			case r.Outcome.Offered():
				s.offered[r.ProgType][i] = 1
			case r.Outcome == observation.NotForType && s.offered[r.ProgType][i] == 0:
				s.offered[r.ProgType][i] = -1
			}
		}
	}
	return seen
}

// seenIn reports whether kernel i has the kfunc (its answers about a kfunc it lacks say
// nothing of program types).
func seenIn(seen map[string]*kfuncSeen, name string, i int) bool {
	s, ok := seen[name]
	return ok && s.present[i]
}

func sortedNames(m map[string]*kfuncSeen) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// span is what a per-kernel presence list says: first and last kernel with it, and the runs
// without it in between.
func span(present []bool, ks []verdict.Kernel) (first, last registry.Version, lastIdx int, gaps []registry.Gap) {
	firstIdx := -1
	lastIdx = -1
	for i, p := range present {
		if p {
			if firstIdx < 0 {
				firstIdx = i
			}
			lastIdx = i
		}
	}
	if firstIdx < 0 {
		return first, last, -1, nil
	}
	first, last = ks[firstIdx].Version.Series(), ks[lastIdx].Version.Series()
	for i := firstIdx + 1; i < lastIdx; i++ {
		if present[i] {
			continue
		}
		j := i
		for j+1 < lastIdx && !present[j+1] {
			j++
		}
		gaps = append(gaps, registry.Gap{From: ks[i].Version.Series(), To: ks[j].Version.Series()})
		i = j
	}
	return first, last, lastIdx, gaps
}

func propose(name string, s *kfuncSeen, ks []verdict.Kernel) *registry.Kfunc {
	k := &registry.Kfunc{Name: name, Prototype: s.prototype, Module: s.module, Category: Category(name)}
	if k.Prototype == "" {
		k.Prototype = name + "(...)"
	}
	first, last, lastIdx, gaps := span(s.present, ks)
	k.MinKernel, k.Gaps = first, gaps
	if lastIdx >= 0 && lastIdx < len(ks)-1 {
		k.LastKernel = last
	}
	var types []string
	for t, o := range s.offered {
		offered, any := offeredOn(o)
		if !any {
			continue
		}
		types = append(types, t)
		tFirst, tLast, tLastIdx, tGaps := span(offered, ks)
		if k.MinKernel.Less(tFirst) {
			if k.ProgTypeSince == nil {
				k.ProgTypeSince = map[string]registry.Version{}
			}
			k.ProgTypeSince[t] = tFirst
		}
		if refusedAfter(o, tLastIdx) && (k.LastKernel.IsZero() || tLast.Less(k.LastKernel)) {
			if k.ProgTypeUntil == nil {
				k.ProgTypeUntil = map[string]registry.Version{}
			}
			k.ProgTypeUntil[t] = tLast
		}
		if g := refusedGaps(o, tGaps, ks); len(g) > 0 {
			if k.ProgTypeGaps == nil {
				k.ProgTypeGaps = map[string][]registry.Gap{}
			}
			k.ProgTypeGaps[t] = g
		}
	}
	k.ProgTypes = registry.NewProgTypes(types)
	for f := range s.flags {
		k.Flags = append(k.Flags, f)
	}
	sort.Strings(k.Flags)
	k.Sources = map[string]string{"matrix": fmt.Sprintf("bpfmatrix kfuncs sync from the observations of %s: releases are the first and last tested kernels that have it (the release itself lies between a tested kernel and the one before)", kernelRange(ks))}
	return k
}

// refusedAfter reports whether some kernel after idx refused (not merely said nothing).
func refusedAfter(o []int8, idx int) bool {
	for _, v := range o[idx+1:] {
		if v < 0 {
			return true
		}
	}
	return false
}

// refusedGaps keeps the gaps in which some kernel refused: a gap of kernels that said nothing
// (type absent, inconclusive) is no evidence of withdrawal.
func refusedGaps(o []int8, gaps []registry.Gap, ks []verdict.Kernel) []registry.Gap {
	var out []registry.Gap
	for _, g := range gaps {
		for i, k := range ks {
			if g.Contains(k.Version) && o[i] < 0 {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

func kernelRange(ks []verdict.Kernel) string {
	if len(ks) == 0 {
		return "no kernel"
	}
	return fmt.Sprintf("%d kernels %s..%s", len(ks), ks[0].Version, ks[len(ks)-1].Version)
}

// presence is, per kernel that recorded kfunc facts, whether it has the kfunc: the evidence of
// every change to its entry.
func presence(s *kfuncSeen, ks []verdict.Kernel) []KernelAnswer {
	out := make([]KernelAnswer, len(ks))
	for i, k := range ks {
		out[i] = KernelAnswer{Kernel: k.Name, Version: k.Version.String(), State: verdict.StateUnknown}
		if s.present[i] {
			out[i].State = verdict.StateOffered
		}
	}
	return out
}

// merge keeps what people wrote in old and reports what changed, one change per key, or what
// happened to the whole entry.
func merge(p, old *registry.Kfunc, answers []KernelAnswer) []Change {
	evidence := runs(answers)
	entry := func(kind, key, a, b string) Change {
		return Change{Name: p.Name, Kind: kind, Key: key, Old: a, New: b, Evidence: evidence, Kernels: answers}
	}
	if old == nil {
		return []Change{entry(Added, "", "", "")}
	}
	if old.Category != "" {
		p.Category = old.Category
	}
	p.Description, p.Notes = old.Description, old.Notes
	for key, v := range old.Sources {
		if key != "matrix" {
			p.Sources[key] = v
		}
	}
	var cs []Change
	for _, f := range []struct{ key, old, new string }{
		{"prototype", old.Prototype, p.Prototype},
		{"min_kernel", old.MinKernel.String(), p.MinKernel.String()},
		{"last_kernel", old.LastKernel.String(), p.LastKernel.String()},
		{"gaps", gapsText(old.Gaps), gapsText(p.Gaps)},
		{"prog_types", old.ProgTypes.String(), p.ProgTypes.String()},
		{"prog_type_since", keyedText(old.ProgTypeSince, ", "), keyedText(p.ProgTypeSince, ", ")},
		{"prog_type_until", keyedText(old.ProgTypeUntil, ", "), keyedText(p.ProgTypeUntil, ", ")},
		{"prog_type_gaps", typeGapsText(old.ProgTypeGaps), typeGapsText(p.ProgTypeGaps)},
		{"attach_points", keyedText(old.AttachPoints, "; "), keyedText(p.AttachPoints, "; ")},
		{"conditions", conditionsText(old.Conditions), conditionsText(p.Conditions)},
		{"flags", strings.Join(old.Flags, ", "), strings.Join(p.Flags, ", ")},
		{"module", old.Module, p.Module},
	} {
		if f.old != f.new {
			cs = append(cs, entry(Changed, f.key, f.old, f.new))
		}
	}
	if len(cs) == 0 {
		return []Change{entry(Unchanged, "", "", "")}
	}
	return cs
}

// offeredOn reads per-kernel answers (1 offered, -1 refused, 0 no evidence) as which kernels
// offer, and whether any does.
func offeredOn(answers []int8) (offered []bool, any bool) {
	offered = make([]bool, len(answers))
	for i, v := range answers {
		offered[i] = v > 0
		any = any || v > 0
	}
	return offered, any
}

// keyedText writes a map of facts per program type or attach point in key order, as changes
// compare it and show it: "tracing: 7.0, xdp: 6.1" for versions (sep ", "), "key: facts; ..."
// for attach points (sep "; ").
func keyedText[V fmt.Stringer](m map[string]V, sep string) string {
	var parts []string
	for _, key := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, key+": "+m[key].String())
	}
	return strings.Join(parts, sep)
}

// typeGapsText writes per-type gaps as "tracing: 7.1..7.1; xdp: 6.1..6.12".
func typeGapsText(m map[string][]registry.Gap) string {
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(m)) {
		if len(m[t]) > 0 {
			parts = append(parts, t+": "+gapsText(m[t]))
		}
	}
	return strings.Join(parts, "; ")
}
