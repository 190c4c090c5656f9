package probe

import (
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/section"
)

// scope says which functions (helpers or kfuncs) a variant is asked about. Most variants are
// asked every function. A variant that stands for one attach target or one struct_ops member
// is asked only the functions whose answer may depend on it, decided from what the other
// variants answered first, so that the finer attach points cost loads only where they can
// tell something:
//
//   - scopeTarget (an attach target, or an attach type probed for its kfuncs): the helpers
//     some variant of its program type answered not_for_target (the kernel's "helper call is
//     not allowed in probe": d_path's allowlist); the kfuncs no variant of any type was found
//     to offer (the kernel registers a kfunc for a program type and filters it by attach type:
//     bpf_session_cookie), and those one variant of its own type offers and another refuses
//     (bpf_sock_destroy, offered to iterators only). Any other kfunc is taken to be decided by
//     its program type.
//   - scopeMember (a struct_ops member): first the kind's canaries, up to maxCanaries of the
//     kind's own functions (those its sentinel offers and neither the socket_filter type nor
//     every kind offers, evenly spread in name order), plus, for kfuncs, up to maxCanaries of
//     those no variant offers that are named like the kind's own, and maxCanaries/4 others. Members answering the canaries as the sentinel does are taken to
//     answer as it does. Of the others, grouped by their canary answers, the first of each
//     group is asked every own function of the kind (and the kfuncs nobody offers that are
//     named like them: scx_bpf_, bpf_qdisc_), and the rest of the group the functions where
//     their first answered otherwise than the sentinel (memberStage).
//   - scopeSleepable (a struct_ops kind's sleepable programs, at the first member that may
//     sleep): the functions the kind's sentinel answered sleepable_only.
type scope uint8

const (
	scopeAll scope = iota
	scopeTarget
	scopeMember
	scopeSleepable
)

// maxCanaries bounds the canaries of a kind: each costs a load per member.
const maxCanaries = 12

// attachPointKey is the attach-point key of the libbpf section name (registry.AttachPointKey),
// "" for a name package section cannot read (a test holds every variant to one it can).
func attachPointKey(name string) string {
	s, err := section.Parse(name)
	if err != nil {
		return ""
	}
	return registry.AttachPointKey(s)
}

// answerFunc says what variant v answered about function f (a helper id, or an index in the
// kfunc list), and whether it was asked.
type answerFunc func(v *variant, f int) (observation.Outcome, bool)

// scopePlan chooses the functions of the scoped variants from the answers of the others.
type scopePlan struct {
	variants []*variant
	funcs    []int // every function asked, in order
	answer   answerFunc
	// names gives a function's name, for the name-prefix rule of member variants (kfuncs).
	names func(f int) string
}

// offered reports whether v offered f.
func (sp scopePlan) offered(v *variant, f int) bool {
	o, ok := sp.answer(v, f)
	return ok && o.Offered()
}

// base is the variant whose offer marks a function as common to every kind: the first usable
// socket_filter one.
func (sp scopePlan) base() *variant {
	for _, v := range sp.variants {
		if v.spec.progType == "socket_filter" && v.info.Usable {
			return v
		}
	}
	return nil
}

// homeless returns the functions no variant asked so far offers, and that some variant was
// asked about with an answer (not unknown to the kernel).
func (sp scopePlan) homeless() []int {
	var out []int
	for _, f := range sp.funcs {
		asked, offered := false, false
		for _, v := range sp.variants {
			o, ok := sp.answer(v, f)
			asked = asked || ok && o != observation.UnknownID
			offered = offered || ok && o.Offered()
		}
		if asked && !offered {
			out = append(out, f)
		}
	}
	return out
}

// notForTarget returns the functions some variant of progType answered not_for_target.
func (sp scopePlan) notForTarget(progType string) []int {
	var out []int
	for _, f := range sp.funcs {
		for _, v := range sp.variants {
			if o, ok := sp.answer(v, f); ok && v.spec.progType == progType && o == observation.NotForTarget {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// split returns the functions some unscoped variant of progType offers and another refuses
// as not for the type: the type's kfunc filters look at the attach type or target there
// (bpf_sock_destroy is for iterators only).
func (sp scopePlan) split(progType string) []int {
	var out []int
	for _, f := range sp.funcs {
		offered, refused := false, false
		for _, v := range sp.variants {
			if o, ok := sp.answer(v, f); ok && v.spec.progType == progType && v.spec.kfuncs == scopeAll {
				offered = offered || o.Offered()
				refused = refused || o == observation.NotForType
			}
		}
		if offered && refused {
			out = append(out, f)
		}
	}
	return out
}

// kindOwn returns the functions the sentinel offers and neither the base variant nor every
// kind's sentinel offers: the kind's own, not struct_ops' in general.
func (sp scopePlan) kindOwn(sentinel *variant) []int {
	base := sp.base()
	sentinels, _ := kindVariants(sp.variants)
	var out []int
	for _, f := range sp.funcs {
		if !sp.offered(sentinel, f) || base != nil && sp.offered(base, f) {
			continue
		}
		common := len(sentinels) > 1
		for _, other := range sentinels {
			common = common && sp.offered(other, f)
		}
		if !common {
			out = append(out, f)
		}
	}
	return out
}

// sleepableOnly returns the functions the sentinel answered sleepable_only (none without one).
func (sp scopePlan) sleepableOnly(sentinel *variant) []int {
	var out []int
	for _, f := range sp.funcs {
		if o, ok := sp.answer(sentinel, f); ok && sentinel != nil && o == observation.SleepableOnly {
			out = append(out, f)
		}
	}
	return out
}

// spread returns up to n of fs, evenly spaced, first included.
func spread(fs []int, n int) []int {
	if len(fs) <= n {
		return fs
	}
	out := make([]int, n)
	for i := range n {
		out[i] = fs[i*len(fs)/n]
	}
	return out
}

// sharesPrefix keeps the fs whose name starts with the first two '_'-separated words of a name
// of own's ("scx_bpf_", "bpf_qdisc_").
func (sp scopePlan) sharesPrefix(fs, own []int) []int {
	prefixes := map[string]bool{}
	for _, f := range own {
		if parts := strings.SplitN(sp.names(f), "_", 3); len(parts) == 3 {
			prefixes[parts[0]+"_"+parts[1]+"_"] = true
		}
	}
	return slices.DeleteFunc(slices.Clone(fs), func(f int) bool {
		parts := strings.SplitN(sp.names(f), "_", 3)
		return len(parts) < 3 || !prefixes[parts[0]+"_"+parts[1]+"_"]
	})
}

// kindVariants groups the usable struct_ops variants by kind: the sentinel and the members.
func kindVariants(vs []*variant) (sentinels map[string]*variant, members map[string][]*variant) {
	sentinels, members = map[string]*variant{}, map[string][]*variant{}
	for _, v := range vs {
		switch {
		case v.spec.kind == "" || !v.info.Usable || v.spec.sleepable:
		case v.spec.sentinel:
			sentinels[v.spec.kind] = v
		default:
			members[v.spec.kind] = append(members[v.spec.kind], v)
		}
	}
	return sentinels, members
}

// scopedAsk is one scoped variant and the functions to ask it.
type scopedAsk struct {
	v     *variant
	funcs []int
}

// firstStage returns what the scoped variants (of scope s, helpers or kfuncs) are asked once the
// unscoped ones have answered: target variants their functions, members their kind's canaries.
// withHomeless adds the homeless functions to the targets' and the canaries (kfuncs).
func (sp scopePlan) firstStage(pick func(*variant) scope, withHomeless bool) []scopedAsk {
	var homeless []int
	if withHomeless {
		homeless = sp.homeless()
	}
	sentinels, _ := kindVariants(sp.variants)
	var out []scopedAsk
	for _, v := range sp.variants {
		if !v.info.Usable {
			continue
		}
		switch pick(v) {
		case scopeTarget:
			fs := slices.Concat(sp.notForTarget(v.spec.progType), homeless)
			if withHomeless {
				fs = append(fs, sp.split(v.spec.progType)...)
			}
			slices.Sort(fs)
			out = append(out, scopedAsk{v, slices.Compact(fs)})
		case scopeMember:
			out = append(out, scopedAsk{v, sp.canaries(sentinels[v.spec.kind], homeless)})
		case scopeSleepable:
			out = append(out, scopedAsk{v, sp.sleepableOnly(sentinels[v.spec.kind])})
		}
	}
	return out
}

// canaries are the functions every member of the sentinel's kind is asked first: some of the
// kind's own, some of the functions nobody offers that are named like them (scx_bpf_dsq_move_to_local,
// refused everywhere but in sched_ext's dispatch), and a few other such.
func (sp scopePlan) canaries(sentinel *variant, homeless []int) []int {
	own := sp.kindOwn(sentinel)
	named := sp.sharesPrefix(homeless, own)
	others := slices.DeleteFunc(slices.Clone(homeless), func(f int) bool { return slices.Contains(named, f) })
	fs := slices.Concat(spread(own, maxCanaries), spread(named, maxCanaries), spread(others, maxCanaries/4))
	slices.Sort(fs)
	return slices.Compact(fs)
}

// memberStage returns what the members of each kind are asked after the canaries. Members are
// grouped by their answers to the canaries; a group answering them as the kind's sentinel does
// is taken to answer everything as it does, and is asked nothing more. In the other groups,
// stage 1 asks the group's first member every function of the kind's own (with withHomeless,
// and the kfuncs nobody offers named like them), and stage 2 asks the group's other members
// the functions their first member answered differently from the sentinel: the answers a
// user's question about the member could not take from the kind's.
func (sp scopePlan) memberStage(stage int, withHomeless bool) []scopedAsk {
	sentinels, members := kindVariants(sp.variants)
	var homeless []int
	if withHomeless {
		homeless = sp.homeless()
	}
	var out []scopedAsk
	for kind, sentinel := range sentinels {
		own := sp.kindOwn(sentinel)
		fs := slices.Concat(own, sp.sharesPrefix(homeless, own))
		slices.Sort(fs)
		fs = slices.Compact(fs)
		for _, g := range sp.memberGroups(sentinel, members[kind]) {
			if stage == 1 {
				out = append(out, scopedAsk{g[0], sp.unasked(g[0], fs)})
				continue
			}
			var differ []int
			for _, f := range sp.funcs {
				got, ok1 := sp.answer(g[0], f)
				want, ok2 := sp.answer(sentinel, f)
				if ok1 && ok2 && got != want {
					differ = append(differ, f)
				}
			}
			for _, m := range g[1:] {
				out = append(out, scopedAsk{m, sp.unasked(m, differ)})
			}
		}
	}
	out = slices.DeleteFunc(out, func(a scopedAsk) bool { return len(a.funcs) == 0 })
	slices.SortFunc(out, func(a, b scopedAsk) int { return strings.Compare(a.v.spec.name, b.v.spec.name) })
	return out
}

// unasked returns the fs v was not asked yet.
func (sp scopePlan) unasked(v *variant, fs []int) []int {
	var out []int
	for _, f := range fs {
		if _, asked := sp.answer(v, f); !asked {
			out = append(out, f)
		}
	}
	return out
}

// memberGroups groups members, in order, by their answers to the functions every one of them
// was asked (the canaries), leaving out the group that answers them as the sentinel does.
func (sp scopePlan) memberGroups(sentinel *variant, members []*variant) [][]*variant {
	var canaries []int
	for _, f := range sp.funcs {
		if !slices.ContainsFunc(members, func(m *variant) bool { _, ok := sp.answer(m, f); return !ok }) {
			canaries = append(canaries, f)
		}
	}
	profile := func(v *variant) string {
		var b strings.Builder
		for _, f := range canaries {
			o, _ := sp.answer(v, f)
			b.WriteString(string(o) + ",")
		}
		return b.String()
	}
	like := profile(sentinel)
	var keys []string
	groups := map[string][]*variant{}
	for _, m := range members {
		k := profile(m)
		if k == like {
			continue
		}
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], m)
	}
	out := make([][]*variant, len(keys))
	for i, k := range keys {
		out[i] = groups[k]
	}
	return out
}
