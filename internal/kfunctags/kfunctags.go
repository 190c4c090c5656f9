// Package kfunctags reads which functions a kernel's BTF tags as kfuncs and compares them with
// the kfuncs a kernel's observations list. It is written apart from the probe's discovery on
// purpose and shares none of its code: it is how the matrix checks the guest agent's answer
// against the BTF of the image the guest booted, and a check that used the agent's code would
// repeat the agent's mistakes.
package kfunctags

import (
	"fmt"
	"slices"

	"github.com/cilium/ebpf/btf"
)

// Tag is the BTF declaration tag the kernel's __bpf_kfunc marker puts on a kfunc.
const Tag = "bpf_kfunc"

// Tagged returns the names of the FUNCs in spec that carry a DECL_TAG Tag on the function
// itself (component index -1), sorted, each once. A tag on one of a FUNC's parameters does not
// make it a kfunc. A BTF that predates the tag (5.10, 6.1) has none, and yields no names.
func Tagged(spec *btf.Spec) ([]string, error) {
	var names []string
	for typ, err := range spec.All() {
		if err != nil {
			return nil, fmt.Errorf("kfunc tags: %w", err)
		}
		// cilium/ebpf moves a FUNC's index -1 tags into Func.Tags and its parameters' tags
		// into ParamTags.
		if fn, ok := typ.(*btf.Func); ok && slices.Contains(fn.Tags, Tag) {
			names = append(names, fn.Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Observed is a kfunc as a kernel's observations list it. The caller copies it out of its
// observation.Kfunc: this package sits below observation and imports none of the project's
// packages outside internal/.
type Observed struct {
	// Name is the function's name.
	Name string
	// Module is the kernel module whose BTF defines it; empty for vmlinux.
	Module string
}

// Diff is how the vmlinux kfuncs of a kernel's observations differ from the kfuncs its
// image's vmlinux BTF tags.
type Diff struct {
	// OnlyImage are tagged in the image's BTF but missing from the observations.
	OnlyImage []string
	// OnlyObserved are vmlinux kfuncs in the observations that the image does not tag.
	OnlyObserved []string
	// Modules are the observations' module kfuncs as "module:name": module BTF is no part of
	// vmlinux's, so they are listed apart and not compared.
	Modules []string
}

// Equal reports whether the observed vmlinux kfuncs are exactly the image's tagged ones.
func (d Diff) Equal() bool { return len(d.OnlyImage) == 0 && len(d.OnlyObserved) == 0 }

// Compare sets the observed kfuncs against the names the image's vmlinux BTF tags (as Tagged
// returns them). Every vmlinux kfunc observed counts, tagged or not: on a kernel whose BTF tags
// kfuncs, an untagged one is a name the agent should not have called a kfunc. The lists of the
// Diff are sorted.
func Compare(tagged []string, observed []Observed) Diff {
	var d Diff
	isTagged := map[string]bool{}
	for _, name := range tagged {
		isTagged[name] = true
	}
	seen := map[string]bool{}
	for _, k := range observed {
		if k.Module != "" {
			d.Modules = append(d.Modules, k.Module+":"+k.Name)
			continue
		}
		seen[k.Name] = true
		if !isTagged[k.Name] {
			d.OnlyObserved = append(d.OnlyObserved, k.Name)
		}
	}
	for _, name := range tagged {
		if !seen[name] {
			d.OnlyImage = append(d.OnlyImage, name)
		}
	}
	for _, l := range []*[]string{&d.OnlyImage, &d.OnlyObserved, &d.Modules} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	return d
}
