package proposal

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/section"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// pointsSeen is what the kernels showed of one function at its attach points: per attach point
// key, per kernel (in the order of the kernels proposed from), 1 offered, -1 refused, 0 no
// evidence; and the target each key's variant was loaded at, for the evidence.
type pointsSeen struct {
	answers map[string][]int8
	targets map[string]string
	// loaded says, per attach point key, on which kernels a usable variant answered for it at
	// all: a variant the probe scoped (a struct_ops member asked only where it may differ from
	// its kind, a target asked only the functions whose answer depends on targets) has no
	// result for the other functions, and answers for them as its parent does.
	loaded map[string][]bool
}

// seePoints gathers one function's attach point answers: results(i) are its results on kernel
// i, present(i) whether kernel i has it (a kernel without it says nothing of attach points).
// Failed kernels say nothing either.
func seePoints(ks []verdict.Kernel, results func(i int) []observation.Result, present func(i int) bool) pointsSeen {
	s := pointsSeen{answers: map[string][]int8{}, targets: map[string]string{}, loaded: map[string][]bool{}}
	for i, k := range ks {
		if k.Failed || !present(i) {
			continue
		}
		for key := range verdict.UsableSections(k.Facts) {
			if s.loaded[key] == nil {
				s.loaded[key] = make([]bool, len(ks))
			}
			s.loaded[key][i] = true
		}
		for key, c := range verdict.PointCells(k, results(i)) {
			if s.answers[key] == nil {
				s.answers[key] = make([]int8, len(ks))
			}
			switch c.State {
			case verdict.StateOffered:
				s.answers[key][i] = 1
			case verdict.StateRefused:
				s.answers[key][i] = -1
			}
			if _, ok := s.targets[key]; !ok {
				s.targets[key] = variantTarget(k.Facts, key)
			}
		}
	}
	return s
}

// variantTarget is the target the first variant answering for key was loaded at.
func variantTarget(f observation.Facts, key string) string {
	for _, t := range f.ProgTypes {
		for _, v := range t.Variants {
			if v.Section == key {
				return v.Target
			}
		}
	}
	return ""
}

// proposePoints proposes the attach_points of entry a, whose other facts are proposed already,
// from what the kernels ks showed at each attach point (seen) and at each program type
// (typeAnswers: per kernel as in pointsSeen, any variant of the type). An attach point is
// recorded where its answers differ, on some kernel where both answered, from its parent's: the
// first attach point up its chain (registry.ParentChain) that is recorded, else its program
// type. Its since, until and gaps are read as a program type's are (span); `offered: false`
// when it offers on no kernel. A recorded attach point the kernels agree with stays as written;
// one no kernel answered for stays too (documents of older agents name no attach point). It
// returns the attach points and, per key recorded or dropped, the kernels' answers there.
func proposePoints(a *registry.Availability, old map[string]registry.AttachPoint, seen pointsSeen, typeAnswers func(string) []int8, ks []verdict.Kernel) (map[string]registry.AttachPoint, map[string][]KernelAnswer) {
	out := map[string]registry.AttachPoint{}
	for key, p := range old {
		if _, ok := seen.answers[key]; !ok {
			out[key] = p
		}
	}
	answers := map[string][]KernelAnswer{}
	effective := map[string][]int8{} // each key's answers, scoped gaps filled from its parent
	for _, key := range parentsFirst(seen.answers) {
		parents, err := registry.ParentChain(key)
		if err != nil {
			continue // not a key the registry can hold
		}
		parent, parentAns := parentOf(key, parents, out, effective, typeAnswers)
		own := inherit(seen.answers[key], parentAns, seen.loaded[key])
		effective[key] = own
		answers[key] = kernelAnswers(seen.answers[key], ks)
		if p, ok := old[key]; ok && agrees(a, key, p, own, ks) {
			out[key] = p
			continue
		}
		if !differs(own, parentAns) {
			continue
		}
		p := pointFacts(a, own, ks)
		if p.Refused && !a.ProgTypes.Contains(mustSection(key).ProgType) {
			continue // the type's facts refuse already; the loader takes no such record
		}
		p.Evidence = pointEvidence(key, seen.targets[key], seen.answers[key], parent, parentAns, ks)
		out[key] = p
	}
	if len(out) == 0 {
		out = nil
	}
	return out, answers
}

// parentsFirst orders attach point keys so that each comes after the keys up its chain.
func parentsFirst(m map[string][]int8) []string {
	keys := slices.Sorted(maps.Keys(m))
	depth := func(k string) int {
		ps, _ := registry.ParentChain(k)
		return len(ps)
	}
	slices.SortStableFunc(keys, func(x, y string) int { return cmp.Compare(depth(x), depth(y)) })
	return keys
}

// parentOf names the parent whose answers key is compared with, and gives them: the first
// recorded key up the chain, else the program type.
func parentOf(key string, parents []string, recorded map[string]registry.AttachPoint, effective map[string][]int8, typeAnswers func(string) []int8) (string, []int8) {
	for _, p := range parents {
		if _, ok := recorded[p]; ok && effective[p] != nil {
			return p, effective[p]
		}
	}
	t := mustSection(key).ProgType
	return "the program type " + t, typeAnswers(t)
}

// inherit fills the kernels on which an attach point's variant loaded but was not asked the
// function (loaded, no answer) with its parent's answer there: the probe asks a scoped variant
// only what may differ from its parent, so its silence means "as the parent". Without this, a
// member asked only on the kernels where its kind filters by member would seem to have
// offered the function only since then.
func inherit(own, parent []int8, loaded []bool) []int8 {
	out := slices.Clone(own)
	for i := range out {
		if out[i] == 0 && i < len(loaded) && loaded[i] && i < len(parent) {
			out[i] = parent[i]
		}
	}
	return out
}

// differs reports whether two answer lists disagree on a kernel where both answered.
func differs(own, parent []int8) bool {
	for i := range own {
		if i < len(parent) && own[i] != 0 && parent[i] != 0 && own[i] != parent[i] {
			return true
		}
	}
	return false
}

// agrees reports whether the recorded facts p of key answer as the kernels did, wherever they
// answered.
func agrees(a *registry.Availability, key string, p registry.AttachPoint, own []int8, ks []verdict.Kernel) bool {
	c := *a
	c.AttachPoints = map[string]registry.AttachPoint{key: p}
	for i, v := range own {
		if v != 0 && c.PointOffered(key, ks[i].Version) != (v > 0) {
			return false
		}
	}
	return true
}

// pointFacts reads an attach point's facts from its answers, as a kfunc's per-type facts are.
func pointFacts(a *registry.Availability, own []int8, ks []verdict.Kernel) registry.AttachPoint {
	offered, any := offeredOn(own)
	if !any {
		return registry.AttachPoint{Refused: true}
	}
	var p registry.AttachPoint
	first, last, lastIdx, gaps := span(offered, ks)
	if a.MinKernel.Less(first) {
		p.Since = first
	}
	if refusedAfter(own, lastIdx) {
		p.Until = last
	}
	p.Gaps = refusedGaps(own, gaps, ks)
	return p
}

// pointEvidence says which kernels showed an attach point's answers, and its parent's:
// "probe: offered on 7.1..7.3, refused on 6.16..7.0 at struct_ops/sched_ext_ops.enqueue;
// parent struct_ops/sched_ext_ops: offered on 6.16..7.3".
func pointEvidence(key, target string, own []int8, parent string, parentAns []int8, ks []verdict.Kernel) string {
	at := key
	if target != "" && !strings.Contains(key, target) {
		at += " (" + target + ")"
	}
	var shown []int8 // the parent's answers on the kernels the attach point answered on
	for i, v := range own {
		if v != 0 && i < len(parentAns) {
			shown = append(shown, parentAns[i])
		} else {
			shown = append(shown, 0)
		}
	}
	return fmt.Sprintf("probe: %s at %s; %s: %s", answerRuns(own, ks), at, parent, answerRuns(shown, ks))
}

// answerRuns words per-kernel answers as runs of kernels: "offered on 6.12..7.3, refused on 6.1".
func answerRuns(ans []int8, ks []verdict.Kernel) string {
	words := map[int8]string{1: "offered", -1: "refused"}
	var parts []string
	for i := 0; i < len(ans); i++ {
		if ans[i] == 0 {
			continue
		}
		j, last := i, i
		for j+1 < len(ans) && (ans[j+1] == ans[i] || ans[j+1] == 0) {
			j++
			if ans[j] != 0 {
				last = j
			}
		}
		run := ks[i].Name
		if last > i {
			run += ".." + ks[last].Name
		}
		parts = append(parts, words[ans[i]]+" on "+run)
		i = last
	}
	if len(parts) == 0 {
		return "no answer"
	}
	return strings.Join(parts, ", ")
}

// kernelAnswers are per-kernel answers as a change's evidence.
func kernelAnswers(ans []int8, ks []verdict.Kernel) []KernelAnswer {
	out := make([]KernelAnswer, len(ks))
	for i, k := range ks {
		out[i] = KernelAnswer{Kernel: k.Name, Version: k.Version.String(), State: verdict.StateNoEvidence}
		switch {
		case k.Failed:
			out[i].State = verdict.StateFailed
		case i < len(ans) && ans[i] > 0:
			out[i].State = verdict.StateOffered
		case i < len(ans) && ans[i] < 0:
			out[i].State = verdict.StateRefused
		}
	}
	return out
}

// mustSection parses an attach point key registry.ParentChain has accepted.
func mustSection(key string) section.Section {
	s, err := section.Parse(key)
	if err != nil {
		panic("proposal: accepted attach point key does not parse: " + err.Error())
	}
	return s
}

// resultsBy indexes each kernel's results by the function they answer for: key gives a result's
// function (a helper id, a kfunc name) and whether the result is about that kind of function.
func resultsBy[K comparable](ks []verdict.Kernel, key func(observation.Result) (K, bool)) []map[K][]observation.Result {
	out := make([]map[K][]observation.Result, len(ks))
	for i, k := range ks {
		out[i] = map[K][]observation.Result{}
		for _, r := range k.Results {
			if f, ok := key(r); ok {
				out[i][f] = append(out[i][f], r)
			}
		}
	}
	return out
}

// helperOf and kfuncOf are the keys of resultsBy for helpers and for kfuncs.
func helperOf(r observation.Result) (int, bool)   { return r.HelperID, r.Kfunc == "" }
func kfuncOf(r observation.Result) (string, bool) { return r.Kfunc, r.Kfunc != "" }

// helperPoints proposes the attach points of p, the proposal for h, from the kernels' answers
// for the helper's id; the program types' answers are the verdict's cells.
func helperPoints(p, h *registry.Helper, hv verdict.HelperVerdict, byID []map[int][]observation.Result, ks []verdict.Kernel) map[string][]KernelAnswer {
	seen := seePoints(ks, func(i int) []observation.Result { return byID[i][h.ID] }, func(int) bool { return true })
	typeAnswers := func(t string) []int8 {
		out := make([]int8, len(ks))
		for _, tv := range hv.Types {
			if tv.ProgType != t {
				continue
			}
			for i, c := range tv.Cells {
				switch c.State {
				case verdict.StateOffered:
					out[i] = 1
				case verdict.StateRefused:
					out[i] = -1
				}
			}
		}
		return out
	}
	var answers map[string][]KernelAnswer
	p.AttachPoints, answers = proposePoints(&p.Availability, h.AttachPoints, seen, typeAnswers, ks)
	return answers
}

// diffPoints lists, one change per attach point, what the proposal does to a helper's
// attach_points.
func diffPoints(id int, name string, old, new map[string]registry.AttachPoint, answers map[string][]KernelAnswer) []Change {
	var cs []Change
	both := map[string]registry.AttachPoint{}
	maps.Copy(both, old)
	maps.Copy(both, new)
	for _, key := range slices.Sorted(maps.Keys(both)) {
		o, had := old[key]
		n, has := new[key]
		if had == has && o.String() == n.String() {
			continue
		}
		c := Change{ID: id, Name: name, Kind: Changed, Key: "attach_points", AttachPoint: key, Kernels: append([]KernelAnswer{}, answers[key]...)}
		if had {
			c.Old = o.String()
		}
		if has {
			c.New = n.String()
		}
		c.Evidence = runs(c.Kernels)
		cs = append(cs, c)
	}
	return cs
}

// kfuncPoints proposes the attach points of p, the proposal for a kfunc whose entry is old (nil
// for a new one), from the kernels that have it; the program types' answers are those the
// proposal read its per-type facts from.
func kfuncPoints(p, old *registry.Kfunc, s *kfuncSeen, byName []map[string][]observation.Result, ks []verdict.Kernel) {
	seen := seePoints(ks, func(i int) []observation.Result { return byName[i][p.Name] }, func(i int) bool { return s.present[i] })
	typeAnswers := func(t string) []int8 {
		if o := s.offered[t]; o != nil {
			return o
		}
		return make([]int8, len(ks))
	}
	var recorded map[string]registry.AttachPoint
	if old != nil {
		recorded = old.AttachPoints
	}
	p.AttachPoints, _ = proposePoints(&p.Availability, recorded, seen, typeAnswers, ks)
}
