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
//     functions the kind's sentinel offers and the socket_filter type does not (the kind's own
//     functions, evenly spread in name order), plus, for kfuncs, up to maxCanaries of those no
//     variant offers. A kind some member answers a canary differently for is member-sensitive
//     on this kernel; only then is every member asked the kind's own functions and the kfuncs
//     nobody offers whose name starts like one of the kind's own (scx_bpf_, bpf_qdisc_).
type scope uint8

const (
	scopeAll scope = iota
	scopeTarget
	scopeMember
)

// maxCanaries bounds the canaries of a kind: each costs a load per member.
const maxCanaries = 8

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

// kindOwn returns the functions the sentinel offers and the base variant does not.
func (sp scopePlan) kindOwn(sentinel *variant) []int {
	base := sp.base()
	var out []int
	for _, f := range sp.funcs {
		if sp.offered(sentinel, f) && (base == nil || !sp.offered(base, f)) {
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
		case v.spec.kind == "" || !v.info.Usable:
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
		}
	}
	return out
}

// canaries are the functions every member of the sentinel's kind is asked first.
func (sp scopePlan) canaries(sentinel *variant, homeless []int) []int {
	fs := slices.Concat(spread(sp.kindOwn(sentinel), maxCanaries), spread(homeless, maxCanaries))
	slices.Sort(fs)
	return slices.Compact(fs)
}

// secondStage returns what the members of member-sensitive kinds are asked after the canaries:
// the kind's own functions (and, with withHomeless, the homeless ones named like them) not
// asked yet.
func (sp scopePlan) secondStage(withHomeless bool) []scopedAsk {
	sentinels, members := kindVariants(sp.variants)
	var homeless []int
	if withHomeless {
		homeless = sp.homeless()
	}
	var out []scopedAsk
	for kind, sentinel := range sentinels {
		if !sp.memberSensitive(sentinel, members[kind]) {
			continue
		}
		own := sp.kindOwn(sentinel)
		fs := slices.Concat(own, sp.sharesPrefix(homeless, own))
		slices.Sort(fs)
		fs = slices.Compact(fs)
		for _, m := range members[kind] {
			var ask []int
			for _, f := range fs {
				if _, asked := sp.answer(m, f); !asked {
					ask = append(ask, f)
				}
			}
			out = append(out, scopedAsk{m, ask})
		}
	}
	slices.SortFunc(out, func(a, b scopedAsk) int { return strings.Compare(a.v.spec.name, b.v.spec.name) })
	return out
}

// memberSensitive reports whether some member answered one of its canaries differently from
// the kind's sentinel, or from another member.
func (sp scopePlan) memberSensitive(sentinel *variant, members []*variant) bool {
	for _, f := range sp.funcs {
		want, ok := sp.answer(sentinel, f)
		for _, m := range members {
			got, asked := sp.answer(m, f)
			if !asked {
				continue
			}
			if !ok {
				want, ok = got, true
			}
			if got != want {
				return true
			}
		}
	}
	return false
}
