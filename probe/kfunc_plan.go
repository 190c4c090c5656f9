package probe

import (
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// kfuncGroup is the variants of one program type, sorted by the role they play in the kfunc
// pass. The kernel registers kfunc id sets per program type (one "hook" per type), so within a
// type the answer for a kfunc differs between variants only by what the verifier checks on top:
// sleepability, a set's filter callback (which may look at the attach type, the struct_ops
// member or the attach target) and nothing else. So the pass asks the plain variants first, and
// the others only where the plain answer says they could differ.
type kfuncGroup struct {
	progType string
	// first is the type's first variant: it carries the type's results when no variant of the
	// type loads, once per kfunc, inconclusive with the variant's reason.
	first *variant
	// plain are the variants every kfunc is asked in: one per type, or, for types whose kfunc
	// filters look at the attach type or struct_ops member (kfuncByAttach), one per distinct
	// attach type and member among the usable non-sleepable variants.
	plain []*variant
	// sleepable are the usable sleepable variants not in plain: asked when a plain variant
	// answers observation.SleepableOnly.
	sleepable []*variant
	// others are the remaining usable variants: other attach targets of a plain variant's attach
	// type, asked when a plain variant answers observation.NotForTarget.
	others []*variant
}

// kfuncByAttach are the program types whose kfunc set filters decide by attach type or
// struct_ops member: tracing (bpf_sock_destroy only in iterators; fmod_ret and session kfuncs),
// lsm (the fs and cgroup kfuncs per hook kind) and struct_ops (sched_ext's and qdisc's kfuncs
// per operation).
var kfuncByAttach = map[string]bool{"tracing": true, "lsm": true, "struct_ops": true}

// kfuncGroups sorts p's variants by program type, in probe order.
func (p *Prober) kfuncGroups() []*kfuncGroup {
	var groups []*kfuncGroup
	for _, v := range p.variants {
		if len(groups) == 0 || groups[len(groups)-1].progType != v.spec.progType {
			groups = append(groups, &kfuncGroup{progType: v.spec.progType, first: v})
		}
	}
	i := 0
	for _, g := range groups {
		start := i
		for i < len(p.variants) && p.variants[i].spec.progType == g.progType {
			i++
		}
		g.assign(p.variants[start:i])
	}
	return groups
}

// assign sorts the variants of g's type into plain, sleepable and others.
func (g *kfuncGroup) assign(vs []*variant) {
	type flavour struct {
		attach string
		member string
	}
	seen := map[flavour]bool{}
	for _, v := range vs {
		if !v.info.Usable || v.spec.sleepable || v.spec.kfuncs != scopeAll {
			continue // a scoped variant is asked what scope.go chooses
		}
		f := flavour{v.spec.attachType, v.spec.member + v.spec.kind}
		switch {
		case len(g.plain) == 0, kfuncByAttach[g.progType] && !seen[f]:
			g.plain = append(g.plain, v)
		default:
			g.others = append(g.others, v)
		}
		seen[f] = true
	}
	for _, v := range vs {
		if !v.info.Usable || !v.spec.sleepable || v.spec.kfuncs != scopeAll {
			continue
		}
		if len(g.plain) == 0 {
			// Only sleepable variants load (syscall programs): the first is the plain one.
			g.plain = append(g.plain, v)
			continue
		}
		g.sleepable = append(g.sleepable, v)
	}
}

// followUps returns the variants of g to ask next about a kfunc whose plain variants answered
// outcomes: the sleepable variants after a sleepable-only answer, the other targets after a
// not-for-target one. Variants already asked are not repeated.
func (g *kfuncGroup) followUps(outcomes []observation.Outcome) []*variant {
	var out []*variant
	for _, o := range outcomes {
		switch o {
		case observation.SleepableOnly:
			out = append(out, g.sleepable...)
		case observation.NotForTarget:
			out = append(out, g.others...)
		}
	}
	return uniqueVariants(out)
}

// all returns every usable variant of g, for the reference strategy that asks them all.
func (g *kfuncGroup) all() []*variant {
	return uniqueVariants(append(append(append([]*variant{}, g.plain...), g.others...), g.sleepable...))
}

func uniqueVariants(vs []*variant) []*variant {
	seen := map[*variant]bool{}
	out := vs[:0]
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
