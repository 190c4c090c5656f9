package verdict

import (
	"fmt"
	"slices"
	"sort"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// KfuncVerdict judges one kfunc entry: whether each kernel has the function as the entry
// says, and, per program type, whether kernels let programs of that type call it.
type KfuncVerdict struct {
	Name string `json:"name"`
	// Verdict is contradicted when anything is, no_evidence when no kernel said anything, and
	// else the existence verdict.
	Verdict   Word          `json:"verdict"`
	Existence TypeVerdict   `json:"existence"`
	Types     []TypeVerdict `json:"prog_types"`
	// MissingProgTypes are the types kernels let call it that the entry omits.
	MissingProgTypes []string  `json:"missing_prog_types,omitempty"`
	Problems         []string  `json:"problems,omitempty"`
	Findings         []Finding `json:"findings,omitempty"`
}

// kfuncIndex maps kernel position, kfunc name and program type to that kernel's answers.
type kfuncIndex []map[string]map[string][]observation.Result

func indexKfuncs(ks []Kernel) kfuncIndex {
	idx := make(kfuncIndex, len(ks))
	for i, k := range ks {
		m := map[string]map[string][]observation.Result{}
		for _, r := range k.Results {
			if r.Kfunc == "" {
				continue
			}
			if m[r.Kfunc] == nil {
				m[r.Kfunc] = map[string][]observation.Result{}
			}
			m[r.Kfunc][r.ProgType] = append(m[r.Kfunc][r.ProgType], r)
		}
		idx[i] = m
	}
	return idx
}

// JudgeKfuncs computes the verdicts of every kfunc entry against kernels, in name order.
func JudgeKfuncs(kfuncs *registry.Kfuncs, kernels []Kernel) []KfuncVerdict {
	ks := append([]Kernel(nil), kernels...)
	sort.SliceStable(ks, func(i, j int) bool { return ks[i].Version.Less(ks[j].Version) })
	idx := indexKfuncs(ks)
	var out []KfuncVerdict
	for _, k := range kfuncs.All() {
		out = append(out, judgeKfunc(k, ks, idx))
	}
	return out
}

// KfuncPresent says whether a kernel has the kfunc. A kernel whose BTF tags kfuncs lists every
// kfunc it has. On a kernel whose BTF predates the tags (5.10, 6.1), a known name its BTF has
// as a function is a kfunc only if some load got past "unknown": the function may exist without
// being callable from BPF. ok is false when the kernel recorded no kfunc facts (observations of
// an older agent): no evidence.
func KfuncPresent(k Kernel, name string) (present, ok bool) {
	if len(k.Facts.Kfuncs) == 0 && len(k.Facts.KfuncsAbsent) == 0 {
		return false, false
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

func judgeKfunc(kf *registry.Kfunc, ks []Kernel, idx kfuncIndex) KfuncVerdict {
	kv := KfuncVerdict{Name: kf.Name}
	kv.Existence = TypeVerdict{Declared: true}
	for _, k := range ks {
		declared, _ := kf.Exists(k.Version)
		c := Cell{Kernel: k.Name, Version: k.Version.String(), Declared: declared}
		present, ok := KfuncPresent(k, kf.Name)
		switch {
		case k.Failed:
			c.State, c.Detail = StateFailed, k.Error
		case !ok:
			c.State, c.Detail = StateNoEvidence, "the kernel's observations list no kfuncs"
		case present:
			c.State, c.Detail = StateOffered, "its BTF has "+kf.Name
		default:
			c.State, c.Detail = StateUnknown, "its BTF has no function "+kf.Name
		}
		kv.Existence.Cells = append(kv.Existence.Cells, c)
	}
	decide(&kv.Existence, kf.MinKernel)
	answered := make([]map[string][]observation.Result, len(ks))
	for i := range ks {
		answered[i] = idx[i][kf.Name]
	}
	declared, others := typesToJudge(kf.ProgTypes, answered)
	for _, t := range declared {
		kv.Types = append(kv.Types, judgeKfuncType(kf, t, true, ks, idx))
	}
	for _, t := range others {
		tv := judgeKfuncType(kf, t, false, ks, idx)
		if tv.FirstOffered != "" {
			kv.Types = append(kv.Types, tv)
			kv.MissingProgTypes = append(kv.MissingProgTypes, t)
		}
	}
	kv.finish()
	return kv
}

func judgeKfuncType(kf *registry.Kfunc, progType string, declared bool, ks []Kernel, idx kfuncIndex) TypeVerdict {
	return judgeTypeCells(progType, declared, ks, kf.OfferedTo, firstRelease(kf.MinKernel, kf.ProgTypeSince, progType),
		func(i int, k Kernel, c *Cell) {
			if present, ok := KfuncPresent(k, kf.Name); ok && !present {
				c.State, c.Detail = StateUnknown, "the kernel has no "+kf.Name
				return
			}
			mergeVariants(c, idx[i][kf.Name][progType])
		})
}

// finish sets the entry's verdict, problems and findings from its parts.
func (kv *KfuncVerdict) finish() {
	if kv.Existence.Verdict == Contradicted {
		kv.Problems = append(kv.Problems, "exists: "+kv.Existence.Reason)
	}
	for _, tv := range kv.Types {
		if tv.Verdict == Contradicted {
			kv.Problems = append(kv.Problems, tv.ProgType+": "+tv.Reason)
		}
	}
	hv := HelperVerdict{Existence: kv.Existence, Types: kv.Types}
	kv.Findings = findings(&hv)
	switch {
	case len(kv.Problems) > 0:
		kv.Verdict = Contradicted
	default:
		kv.Verdict = kv.Existence.Verdict
	}
}

// String names the entry in messages.
func (kv KfuncVerdict) String() string { return fmt.Sprintf("%s: %s", kv.Name, kv.Verdict) }
