package proposal

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// point is one kernel's evidence about a helper, or a helper in a program type.
type point struct {
	v  registry.Version
	on bool // offered (for a type) or known (for the id)
}

// Helpers proposes the release facts of the helper table from the kernels' observations: per
// entry min_kernel (the first tested kernel that knows the id), and per program type the
// program types, their first releases (prog_type_since), the last release before kernels
// withdrew the helper (prog_type_until) and the releases in between that lacked it
// (prog_type_gaps). The evidence rules are the verdict package's: failed kernels,
// inconclusive answers, absent program types and refusals by kernels built without the entry's
// kernel_config say nothing. Only facts the kernels contradict, or that the entry lacks, are
// proposed; each is set to the tested kernel's release series that shows it (the release itself
// lies between that kernel and the neighbouring tested one). It returns the entries that change,
// as new values in id order with a sources.matrix line saying so, and the changes.
func Helpers(reg *registry.Registry, kernels []verdict.Kernel) ([]*registry.Helper, []Change) {
	ks := append([]verdict.Kernel(nil), kernels...)
	sort.SliceStable(ks, func(i, j int) bool { return ks[i].Version.Less(ks[j].Version) })
	byName := map[string]verdict.Kernel{}
	var answered []verdict.Kernel
	for _, k := range ks {
		byName[k.Name] = k
		if !k.Failed {
			answered = append(answered, k)
		}
	}
	byID := resultsBy(ks, helperOf)
	var out []*registry.Helper
	var changes []Change
	for _, hv := range verdict.JudgeHelpers(reg.Helpers(), nil, ks) {
		h, _ := reg.ByID(hv.ID)
		p, open := proposeHelper(h, hv, byName)
		points := helperPoints(p, h, hv, byID, ks)
		cs := append(diffHelper(h, p), diffPoints(h.ID, h.Name, h.AttachPoints, p.AttachPoints, points)...)
		if open {
			cs = []Change{{ID: h.ID, Name: h.Name, Kind: Changed, Key: "min_kernel", Old: h.MinKernel.String(), Open: true}}
		} else if len(cs) > 0 {
			p.Sources = cloneMap(p.Sources)
			p.Sources["matrix"] = matrixSource(h.Sources["matrix"], cs, answered)
			out = append(out, p)
		}
		for i := range cs {
			if cs[i].AttachPoint == "" {
				fillEvidence(&cs[i], hv)
			}
		}
		changes = append(changes, cs...)
	}
	return out, sortChanges(changes)
}

// sortChanges keeps the order of entries and puts each entry's changes in registry order:
// min_kernel, then per program type (kernel enum order) prog_types, since, until, gaps.
func sortChanges(cs []Change) []Change {
	rank := map[string]int{"min_kernel": 0, "prog_types": 1, "prog_type_since": 2, "prog_type_until": 3, "prog_type_gaps": 4, "attach_points": 5}
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if (a.AttachPoint != "") != (b.AttachPoint != "") {
			return b.AttachPoint != "" // attach points after the entry's other facts
		}
		ta, _ := registry.ProgTypeID(a.ProgType)
		tb, _ := registry.ProgTypeID(b.ProgType)
		if ta != tb {
			return ta < tb
		}
		if rank[a.Key] != rank[b.Key] {
			return rank[a.Key] < rank[b.Key]
		}
		return a.AttachPoint < b.AttachPoint
	})
	return cs
}

// proposeHelper returns h with the facts the kernels contradict replaced, or h as it is and
// true when they contradict min_kernel without showing a value for it.
func proposeHelper(h *registry.Helper, hv verdict.HelperVerdict, ks map[string]verdict.Kernel) (*registry.Helper, bool) {
	p := cloneHelper(h)
	exist := existencePoints(h.ID, hv.Existence.Cells, ks)
	if f := firstOn(exist); f < 0 {
		// No kernel knows the id: only kernels older than min_kernel may say so. When newer
		// ones do, the entry names a helper these kernels lack, and its program types say
		// nothing more.
		for _, pt := range exist {
			if !pt.v.Less(h.MinKernel) {
				return p, true
			}
		}
	} else if !agreesWith(exist[:f+1], func(v registry.Version) bool { return !v.Less(h.MinKernel) }) {
		p.MinKernel = firstCandidate(exist, f)
	}
	for _, tv := range hv.Types {
		proposeType(p, tv.ProgType, typePoints(tv.Cells, ks))
	}
	if p.MinKernel != h.MinKernel {
		// A first release per type at or before the entry's own says nothing any more.
		for t, s := range p.ProgTypeSince {
			if !p.MinKernel.Less(s) {
				delete(p.ProgTypeSince, t)
			}
		}
	}
	return p, false
}

// proposeType settles one program type's facts in p. Each part (the first release, the last
// one, the gaps between) is kept when the kernels agree with it and replaced by what they show
// when they do not.
func proposeType(p *registry.Helper, t string, pts []point) {
	offered := func(v registry.Version) bool { return p.OfferedTo(t, v) }
	if agreesWith(pts, offered) {
		return
	}
	f, l := firstOn(pts), lastOn(pts)
	if f < 0 {
		// Refused by every kernel that answered, though the entry declares it for some of them.
		removeType(p, t)
		return
	}
	if !p.ProgTypes.Contains(t) {
		p.ProgTypes = registry.NewProgTypes(append(listed(p.ProgTypes), t))
	}
	// The first release, judged without the gaps and the last release, which have parts of
	// their own.
	only := cloneHelper(p)
	delete(only.ProgTypeGaps, t)
	delete(only.ProgTypeUntil, t)
	if !agreesWith(pts[:f+1], func(v registry.Version) bool { return only.OfferedTo(t, v) }) {
		first := firstCandidate(pts, f)
		if p.MinKernel.Less(first) {
			p.ProgTypeSince = setVersion(p.ProgTypeSince, t, first)
		} else {
			delete(p.ProgTypeSince, t)
		}
	}
	only = cloneHelper(p)
	delete(only.ProgTypeGaps, t)
	if !agreesWith(pts[l:], func(v registry.Version) bool { return only.OfferedTo(t, v) }) {
		if l < len(pts)-1 {
			p.ProgTypeUntil = setVersion(p.ProgTypeUntil, t, lastCandidate(pts[l], pts[l+1]))
		} else {
			delete(p.ProgTypeUntil, t)
		}
	}
	if !agreesWith(pts[f:l+1], offered) {
		if gaps := observedGaps(pts[f : l+1]); len(gaps) > 0 {
			if p.ProgTypeGaps == nil {
				p.ProgTypeGaps = map[string][]registry.Gap{}
			}
			p.ProgTypeGaps[t] = gaps
		} else {
			delete(p.ProgTypeGaps, t)
		}
	}
}

// removeType takes t out of p's program types with its per-type facts. An entry offered to
// every type becomes the list of the others.
func removeType(p *registry.Helper, t string) {
	p.ProgTypes = registry.NewProgTypes(slices.DeleteFunc(listed(p.ProgTypes), func(s string) bool { return s == t }))
	delete(p.ProgTypeSince, t)
	delete(p.ProgTypeUntil, t)
	delete(p.ProgTypeGaps, t)
}

// listed returns the program types of a set; for "all", every type but ext, which inherits the
// helpers of the program it replaces and is never listed.
func listed(pt registry.ProgTypes) []string {
	if !pt.All {
		return append([]string(nil), pt.Types...)
	}
	return slices.DeleteFunc(registry.ProgTypeNames(), func(s string) bool { return s == registry.ExtProgType })
}

// existencePoints are the kernels that show whether they know the helper's id: by answering
// past the id lookup or with "unknown id", and, where every answer was inconclusive, by the id
// list of their BTF.
func existencePoints(id int, cells []verdict.Cell, ks map[string]verdict.Kernel) []point {
	var pts []point
	for _, c := range cells {
		k := ks[c.Kernel]
		switch {
		case c.State == verdict.StateOffered || c.State == verdict.StateUnknown:
			pts = append(pts, point{k.Version, c.State == verdict.StateOffered})
		case c.State == verdict.StateNoEvidence && len(k.Facts.BTFHelperIDs) > 0:
			pts = append(pts, point{k.Version, slices.Contains(k.Facts.BTFHelperIDs, id)})
		}
	}
	return pts
}

// typePoints are the kernels whose answers for a program type are evidence.
func typePoints(cells []verdict.Cell, ks map[string]verdict.Kernel) []point {
	var pts []point
	for _, c := range cells {
		switch c.State {
		case verdict.StateOffered, verdict.StateRefused, verdict.StateUnknown:
			pts = append(pts, point{ks[c.Kernel].Version, c.State == verdict.StateOffered})
		}
	}
	return pts
}

func agreesWith(pts []point, declared func(registry.Version) bool) bool {
	for _, pt := range pts {
		if declared(pt.v) != pt.on {
			return false
		}
	}
	return true
}

func firstOn(pts []point) int {
	return slices.IndexFunc(pts, func(pt point) bool { return pt.on })
}

func lastOn(pts []point) int {
	for i := len(pts) - 1; i >= 0; i-- {
		if pts[i].on {
			return i
		}
	}
	return -1
}

// firstCandidate is the first release pts[f] shows: its series, or its exact version when the
// kernel before it, which lacks the helper, belongs to the same series.
func firstCandidate(pts []point, f int) registry.Version {
	v := pts[f].v.Series()
	if f > 0 && !pts[f-1].v.Less(v) {
		return pts[f].v
	}
	return v
}

// lastCandidate is the last release last shows before next lacks the helper: its series, or
// its exact version when next belongs to the same series.
func lastCandidate(last, next point) registry.Version {
	if last.v.Series() == next.v.Series() {
		return last.v
	}
	return last.v.Series()
}

// observedGaps are the runs of kernels that lack the helper between two that have it, as
// ranges of release series.
func observedGaps(pts []point) []registry.Gap {
	var gaps []registry.Gap
	for i := 0; i < len(pts); i++ {
		if pts[i].on {
			continue
		}
		j := i
		for j+1 < len(pts) && !pts[j+1].on {
			j++
		}
		gaps = append(gaps, registry.Gap{From: pts[i].v.Series(), To: pts[j].v.Series()})
		i = j
	}
	return gaps
}

func setVersion(m map[string]registry.Version, t string, v registry.Version) map[string]registry.Version {
	if m == nil {
		m = map[string]registry.Version{}
	}
	m[t] = v
	return m
}

// cloneHelper copies an entry deeply enough that proposing changes leaves the original alone.
func cloneHelper(h *registry.Helper) *registry.Helper {
	c := *h
	c.ProgTypes.Types = append([]string(nil), h.ProgTypes.Types...)
	c.ProgTypeSince = cloneMap(h.ProgTypeSince)
	c.ProgTypeUntil = cloneMap(h.ProgTypeUntil)
	c.ProgTypeGaps = map[string][]registry.Gap{}
	for t, gs := range h.ProgTypeGaps {
		c.ProgTypeGaps[t] = append([]registry.Gap(nil), gs...)
	}
	c.AttachPoints = maps.Clone(h.AttachPoints)
	return &c
}

func cloneMap[V any](m map[string]V) map[string]V {
	c := make(map[string]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// diffHelper lists what p changes in h, one change per key and program type.
func diffHelper(h, p *registry.Helper) []Change {
	var cs []Change
	add := func(key, t, old, new string) {
		if old != new {
			cs = append(cs, Change{ID: h.ID, Name: h.Name, Kind: Changed, Key: key, ProgType: t, Old: old, New: new})
		}
	}
	add("min_kernel", "", h.MinKernel.String(), p.MinKernel.String())
	for _, t := range registry.ProgTypeNames() {
		was, is := slices.Contains(listed(h.ProgTypes), t), slices.Contains(listed(p.ProgTypes), t)
		switch {
		case was && !is:
			add("prog_types", t, t, "")
		case is && !was:
			add("prog_types", t, "", t)
		}
		add("prog_type_since", t, versionAt(h.ProgTypeSince, t), versionAt(p.ProgTypeSince, t))
		add("prog_type_until", t, versionAt(h.ProgTypeUntil, t), versionAt(p.ProgTypeUntil, t))
		add("prog_type_gaps", t, gapsText(h.ProgTypeGaps[t]), gapsText(p.ProgTypeGaps[t]))
	}
	return cs
}

func versionAt(m map[string]registry.Version, t string) string {
	if v, ok := m[t]; ok {
		return v.String()
	}
	return ""
}

func gapsText(gs []registry.Gap) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = g.String()
	}
	return strings.Join(parts, ", ")
}

// fillEvidence attaches the answers that decide c: the id's for min_kernel, the program type's
// for the others.
func fillEvidence(c *Change, hv verdict.HelperVerdict) {
	cells := hv.Existence.Cells
	if c.ProgType != "" {
		for _, tv := range hv.Types {
			if tv.ProgType == c.ProgType {
				cells = tv.Cells
			}
		}
	}
	c.Kernels = nil
	for _, cell := range cells {
		c.Kernels = append(c.Kernels, KernelAnswer{Kernel: cell.Kernel, Version: cell.Version, State: cell.State, Detail: cell.Detail})
	}
	c.Evidence = runs(c.Kernels)
}

// matrixSource is the sources.matrix line of a changed entry: which facts the kernels set, and
// from which kernels, after what an earlier matrix line said.
func matrixSource(old string, cs []Change, answered []verdict.Kernel) string {
	var keys []string
	types := map[string][]string{}
	for _, c := range cs {
		if _, ok := types[c.Key]; !ok {
			keys = append(keys, c.Key)
		}
		if sub := cmp.Or(c.ProgType, c.AttachPoint); sub != "" {
			types[c.Key] = append(types[c.Key], sub)
		} else {
			types[c.Key] = nil
		}
	}
	var set []string
	for _, k := range keys {
		if len(types[k]) > 0 {
			k += " (" + strings.Join(types[k], ", ") + ")"
		}
		set = append(set, k)
	}
	s := fmt.Sprintf("bpfmatrix helpers sync from the observations of %s: %s set from the kernels (a release is the tested kernel's series that shows it; the release itself lies between that kernel and the neighbouring tested one)",
		kernelRange(answered), strings.Join(set, "; "))
	if old == "" {
		return s
	}
	return old + "; then " + s
}
