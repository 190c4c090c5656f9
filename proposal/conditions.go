package proposal

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// kfuncConditions proposes p's conditions (registry.Condition) from the kernels' held-object
// facts: for each program type p is offered to, the objects its prototype works on that the
// type's variants may not hold in a map value, on the kernels that offer p to the type. Since,
// until and gaps are written, as a type's are, only where a kernel that offers p to the type
// showed the type may hold the objects. A type no kernel gave held-object facts for keeps the
// condition old recorded (documents of older agents say nothing either way).
func kfuncConditions(p, old *registry.Kfunc, s *kfuncSeen, ks []verdict.Kernel) {
	objects := registry.ObjectsHeld(p.Prototype)
	if len(objects) == 0 || p.ProgTypes.All {
		return
	}
	for _, t := range p.ProgTypes.Types {
		c, evidence := typeCondition(t, objects, s.offered[t], ks)
		switch {
		case c != nil:
			if p.Conditions == nil {
				p.Conditions = map[string]registry.Condition{}
			}
			p.Conditions[t] = *c
		case !evidence && old != nil:
			if oc, ok := old.Conditions[t]; ok {
				if p.Conditions == nil {
					p.Conditions = map[string]registry.Condition{}
				}
				p.Conditions[t] = oc
			}
		}
	}
}

// typeCondition decides one program type's condition from the kernels that offer the kfunc to
// it (offered[i] > 0): per kernel, 1 when its variants of the type may not hold some of objects,
// -1 when they may hold every one, 0 without facts. evidence is false when no kernel had facts.
func typeCondition(progType string, objects []string, offered []int8, ks []verdict.Kernel) (c *registry.Condition, evidence bool) {
	state := make([]int8, len(ks))
	held := map[string]bool{}
	words := map[string]bool{}
	var refusing []string
	for i, k := range ks {
		if i >= len(offered) || offered[i] <= 0 {
			continue
		}
		refused, allowed, details := verdict.HeldRefused(k.Facts.HeldObjects, progType, objects)
		switch {
		case len(refused) > 0:
			state[i] = 1
			refusing = append(refusing, k.Name)
			for _, o := range refused {
				held[o] = true
			}
			for _, d := range details {
				words[d] = true
			}
		case allowed:
			state[i] = -1
		}
		evidence = evidence || state[i] != 0
	}
	if len(refusing) == 0 {
		return nil, evidence
	}
	c = &registry.Condition{}
	for _, o := range registry.HeldObjectKinds {
		if held[o] {
			c.Holds = append(c.Holds, o)
		}
	}
	firstIdx, lastIdx := -1, -1
	for i, st := range state {
		if st > 0 {
			if firstIdx < 0 {
				firstIdx = i
			}
			lastIdx = i
		}
	}
	if slices.Contains(state[:firstIdx], -1) {
		c.Since = ks[firstIdx].Version.Series()
	}
	if slices.Contains(state[lastIdx+1:], -1) {
		c.Until = ks[lastIdx].Version.Series()
	}
	c.Gaps = allowedRuns(state, firstIdx, lastIdx, ks)
	c.Evidence = fmt.Sprintf("probe: %s programs may not hold %s in a map value on %s (%s)",
		progType, strings.Join(c.Holds, ", "), strings.Join(refusing, ", "), strings.Join(slices.Sorted(maps.Keys(words)), "; "))
	return c, true
}

// allowedRuns are the runs of kernels between firstIdx and lastIdx that showed the type may
// hold the objects, as release ranges: a run of kernels without facts is no gap.
func allowedRuns(state []int8, firstIdx, lastIdx int, ks []verdict.Kernel) []registry.Gap {
	var gaps []registry.Gap
	for i := firstIdx + 1; i < lastIdx; i++ {
		if state[i] > 0 {
			continue
		}
		j := i
		for j+1 < lastIdx && state[j+1] <= 0 {
			j++
		}
		if slices.Contains(state[i:j+1], -1) {
			gaps = append(gaps, registry.Gap{From: ks[i].Version.Series(), To: ks[j].Version.Series()})
		}
		i = j
	}
	return gaps
}

// conditionsText writes conditions as "tracepoint: holds bpf_list_head from 6.12 (evidence)".
func conditionsText(m map[string]registry.Condition) string {
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(m)) {
		c := m[t]
		s := t + ": holds " + strings.Join(c.Holds, ", ")
		if !c.Since.IsZero() {
			s += " from " + c.Since.String()
		}
		if !c.Until.IsZero() {
			s += " until " + c.Until.String()
		}
		if len(c.Gaps) > 0 {
			s += " not in " + gapsText(c.Gaps)
		}
		parts = append(parts, s+" ("+c.Evidence+")")
	}
	return strings.Join(parts, "; ")
}
