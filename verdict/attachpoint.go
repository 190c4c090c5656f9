package verdict

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/section"
)

// PointVerdict judges one attach point claim of an entry (registry attach_points) against the
// answers of the variants that answer for that attach point (observation.VariantInfo.Section).
type PointVerdict struct {
	// Key is the attach point, as the registry keys it ("kprobe.session", "iter/tcp").
	Key string `json:"key"`
	// Claim is what the registry says of it, in words ("not offered", "from 6.16").
	Claim string `json:"claim"`
	// Verdict is confirmed, contradicted or no_evidence.
	Verdict Word `json:"verdict"`
	// Reason says which kernels showed it, in one sentence.
	Reason string `json:"reason"`
	Cells  []Cell `json:"cells"`
}

// PointCells returns one kernel's answers for one function at each attach point its variants
// answered for, by attach point key: rs are the function's results on k, in any program type.
// An attach point offers when some variant of it offers (not_for_target counts as a refusal at
// a key naming a target, and as an offer with a condition at one standing for every target, as
// for a program type); it refuses when every variant answered and refused. Variants without a
// section (documents of older agents) and variants the kernel could not load say nothing; an
// unknown id is the function's absence, which is no answer about the attach point either.
func PointCells(k Kernel, rs []observation.Result) map[string]Cell {
	sections := variantSections(k.Facts)
	byKey := map[string][]observation.Result{}
	var order []string
	for _, r := range rs {
		key, ok := sections[r.ProgType+"/"+r.Variant]
		if !ok || r.Outcome == observation.UnknownID {
			continue
		}
		if _, seen := byKey[key]; !seen {
			order = append(order, key)
		}
		if r.Outcome == observation.NotForTarget && namesTarget(key) {
			r.Outcome = observation.NotForType
		}
		byKey[key] = append(byKey[key], r)
	}
	out := make(map[string]Cell, len(order))
	for _, key := range order {
		c := Cell{Kernel: k.Name, Version: k.Version.String()}
		mergeVariants(&c, byKey[key])
		out[key] = c
	}
	return out
}

// UsableSections are the attach point keys some usable variant of the kernel answers for.
func UsableSections(f observation.Facts) map[string]bool {
	out := map[string]bool{}
	for _, key := range variantSections(f) {
		out[key] = true
	}
	return out
}

// variantSections maps "prog_type/variant" to the attach point key of each usable variant that
// names one.
func variantSections(f observation.Facts) map[string]string {
	out := map[string]string{}
	for _, t := range f.ProgTypes {
		for _, v := range t.Variants {
			if v.Section != "" && v.Usable {
				out[t.Name+"/"+v.Name] = v.Section
			}
		}
	}
	return out
}

// namesTarget reports whether an attach point key names one target (fentry/d_path, iter/tcp, a
// struct_ops member), where a refusal for the target is the attach point's refusal.
func namesTarget(key string) bool {
	s, err := section.Parse(key)
	return err == nil && s.Target != ""
}

// judgePoints judges every attach point claim of s's entry against the kernels' answers
// (s.answered: per kernel, the entry's answers by program type), each claim as the kernel's
// Expect may replace it. A failed kernel is never evidence; nor is a kernel without the
// function, whose absence the existence verdict judges.
func judgePoints(s subject, ks []Kernel) []PointVerdict {
	entry, answered := s.entry, s.answered
	if len(entry.AttachPoints) == 0 {
		return nil
	}
	perKernel := make([]map[string]Cell, len(ks))
	for i, k := range ks {
		if !k.Failed {
			var rs []observation.Result
			for _, t := range sortedTypes(answered[i]) {
				rs = append(rs, t...)
			}
			perKernel[i] = PointCells(k, rs)
		}
	}
	var out []PointVerdict
	for _, key := range slices.Sorted(maps.Keys(entry.AttachPoints)) {
		pv := PointVerdict{Key: key, Claim: entry.AttachPoints[key].Claim()}
		for i, k := range ks {
			c, ok := perKernel[i][key]
			switch {
			case k.Failed:
				c = Cell{Kernel: k.Name, Version: k.Version.String(), State: StateFailed, Detail: k.Error}
			case !ok:
				c = Cell{Kernel: k.Name, Version: k.Version.String(), State: StateNoEvidence, Detail: "no usable variant answered at " + key}
			}
			c.Declared = declaredFor(k, s.kind, s.name, key, entry.PointOffered(key, k.Version))
			pv.Cells = append(pv.Cells, c)
		}
		decidePoint(&pv)
		out = append(out, pv)
	}
	return out
}

// decidePoint fills in an attach point verdict from its cells.
func decidePoint(pv *PointVerdict) {
	var bad, offered, refused []string
	detail := ""
	for _, c := range pv.Cells {
		switch {
		case c.Contradicts():
			bad = append(bad, c.Kernel)
			if detail == "" {
				detail = fmt.Sprintf("%s answered %s (%s)", c.Kernel, c.State, c.Detail)
			}
		case c.State == StateOffered:
			offered = append(offered, c.Kernel)
		case c.State == StateRefused:
			refused = append(refused, c.Kernel)
		}
	}
	switch {
	case len(bad) > 0:
		pv.Verdict = Contradicted
		pv.Reason = fmt.Sprintf("declared %s at %s, but %s disagree%s: %s", pv.Claim, pv.Key, strings.Join(bad, ", "), verbS(len(bad)), detail)
	case len(offered)+len(refused) == 0:
		pv.Verdict = NoEvidence
		pv.Reason = "no kernel answered at " + pv.Key + " (no variant for it, failed, unusable or inconclusive)"
	default:
		pv.Verdict = Confirmed
		var parts []string
		if len(offered) > 0 {
			parts = append(parts, "offered on "+strings.Join(offered, ", "))
		}
		if len(refused) > 0 {
			parts = append(parts, "refused on "+strings.Join(refused, ", "))
		}
		pv.Reason = fmt.Sprintf("%s at %s, as declared (%s)", strings.Join(parts, "; "), pv.Key, pv.Claim)
	}
}

// verbS is the verb ending after one kernel's name ("6.12 disagrees") or a list.
func verbS(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}

// pointProblems are the contradicted attach point claims, as the entry's contradictions.
func pointProblems(pvs []PointVerdict) []contradiction {
	var out []contradiction
	for _, pv := range pvs {
		if pv.Verdict == Contradicted {
			out = append(out, contradiction{"attach point " + pv.Key, "attach point " + pv.Key + ": " + pv.Reason, pv.Reason})
		}
	}
	return out
}
