package verdict

import (
	"fmt"
	"slices"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// KfuncVerdict judges one kfunc entry: whether each kernel has the function as the entry
// says, and, per program type, whether kernels let programs of that type call it.
type KfuncVerdict struct {
	Name string `json:"name"`
	Availability
}

// JudgeKfuncs computes the verdicts of every kfunc entry against kernels, in name order.
func JudgeKfuncs(kfuncs *registry.Kfuncs, kernels []Kernel) []KfuncVerdict {
	ks := byVersion(kernels)
	idx := indexAnswers(ks, func(r observation.Result) (string, bool) { return r.Kfunc, r.Kfunc != "" })
	var out []KfuncVerdict
	for _, kf := range kfuncs.All() {
		kv := KfuncVerdict{Name: kf.Name, Availability: judgeAvailability(kfuncSubject(kf, idx), ks)}
		kv.finish("exists: ", judgeConditions(kf, ks, kv.Availability))
		out = append(out, kv)
	}
	return out
}

// KfuncPresent says whether a kernel has the kfunc. A kernel whose BTF tags kfuncs lists every
// kfunc it has. On a kernel whose BTF predates the tags (5.10, 6.1), a known name its BTF has
// as a function is a kfunc only if some load got past "unknown": the function may exist without
// being callable from BPF. ok is false when the kernel recorded no kfunc facts (observations of
// an older agent): no evidence. A module's kfunc (module not "") that the kernel does not list
// is no evidence either unless the kernel loaded that module: the module may be missing from the
// image's packages (Debian's 6.19 to 7.1 modules packages left the archive), which says nothing
// of the kernel.
func KfuncPresent(k Kernel, name, module string) (present, ok bool) {
	if len(k.Facts.Kfuncs) == 0 && len(k.Facts.KfuncsAbsent) == 0 {
		return false, false
	}
	if module != "" && !ModuleLoaded(k, module) {
		i := slices.IndexFunc(k.Facts.Kfuncs, func(f observation.Kfunc) bool { return f.Name == name })
		return i >= 0, i >= 0
	}
	if slices.Contains(k.Facts.KfuncsAbsent, name) {
		return false, true
	}
	for _, f := range k.Facts.Kfuncs {
		if f.Name != name {
			continue
		}
		if f.Tagged {
			return true, true
		}
		for _, r := range k.Results {
			if r.Kfunc == name && r.Outcome != observation.UnknownID && r.Outcome != observation.Inconclusive {
				return true, true
			}
		}
		return false, true
	}
	return false, hasTags(k)
}

func hasTags(k Kernel) bool {
	for _, f := range k.Facts.Kfuncs {
		if f.Tagged {
			return true
		}
	}
	return false
}

// kfuncSubject is what the shared judgement needs of a kfunc: a kernel has it when its BTF
// says so (KfuncPresent), and a kernel without it refuses it in every program type. An offered
// cell of a type the kernel refuses the objects the kfunc works on is offered with conditions
// (CannotHold).
func kfuncSubject(kf *registry.Kfunc, idx byEntry[string]) subject {
	objects := registry.ObjectsHeld(kf.Prototype)
	return subject{
		category: kf.Category, minKernel: kf.MinKernel, progTypes: kf.ProgTypes, since: kf.ProgTypeSince,
		kind: registry.KindKfunc, name: kf.Name,
		offeredTo: kf.OfferedTo, entry: &kf.Availability,
		exists:   func(v registry.Version) bool { declared, _ := kf.Exists(v); return declared },
		answered: idx.of(kf.Name),
		known:    func(_ int, k Kernel, c *Cell) { hasKfunc(c, k, kf.Name, kf.Module) },
		fill: func(k Kernel, c *Cell, rs []observation.Result) {
			if present, ok := KfuncPresent(k, kf.Name, kf.Module); ok && !present {
				c.State, c.Detail = StateUnknown, "the kernel has no "+kf.Name
				return
			}
			mergeVariants(c, rs)
			addHeldConditions(c, k, rs, objects)
		},
	}
}

// hasKfunc fills a kernel's existence cell for a kfunc from its BTF.
func hasKfunc(c *Cell, k Kernel, name, module string) {
	present, ok := KfuncPresent(k, name, module)
	switch {
	case !ok && module != "" && !ModuleLoaded(k, module):
		c.State, c.Detail = StateNoEvidence, "the guest did not load module "+module
	case !ok:
		c.State, c.Detail = StateNoEvidence, "the kernel's observations list no kfuncs"
	case present:
		c.State, c.Detail = StateOffered, "its BTF has "+name
	default:
		c.State, c.Detail = StateUnknown, "its BTF has no function "+name
	}
}

// String names the entry in messages.
func (kv KfuncVerdict) String() string { return fmt.Sprintf("%s: %s", kv.Name, kv.Verdict) }

// ModuleLoaded reports whether the kernel's guest loaded the module (its facts list it without
// an error): only then do its kfuncs' absence and answers say something of the kernel.
func ModuleLoaded(k Kernel, module string) bool {
	return slices.ContainsFunc(k.Facts.Modules, func(m observation.ModuleLoad) bool { return m.Name == module && m.Error == "" })
}
