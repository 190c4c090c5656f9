package verdict

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// CannotHold prefixes the cell condition that says a kernel offers a kfunc to a program type
// whose programs it refuses a map value holding the object the kfunc works on
// ("cannot_hold:bpf_list_head"): offered with conditions (registry.Condition).
const CannotHold = "cannot_hold:"

// HeldRefused reads one kernel's held-object facts for progType's variants: the objects among
// objects some variant was refused and none allowed, with the verifier's words for each, and
// whether every object was allowed in some variant. An object no variant answered is neither.
func HeldRefused(facts []observation.HeldObject, progType string, objects []string) (refused []string, allowed bool, details []string) {
	allowed = true
	for _, o := range objects {
		yes, no := false, ""
		for _, h := range facts {
			if h.Object != o || h.Inconclusive || !strings.HasPrefix(h.Variant, progType+"/") {
				continue
			}
			if h.Allowed {
				yes = true
			} else if no == "" {
				no = h.Detail
			}
		}
		switch {
		case yes:
		case no != "":
			refused, details = append(refused, o), append(details, no)
			allowed = false
		default:
			allowed = false
		}
	}
	return refused, allowed, details
}

// addHeldConditions adds to c, a kernel's offered cell of a kfunc working on objects, a
// CannotHold condition per object the kernel refuses the cell's program type in a map value.
func addHeldConditions(c *Cell, k Kernel, rs []observation.Result, objects []string) {
	if c.State != StateOffered || len(objects) == 0 || len(rs) == 0 {
		return
	}
	refused, _, details := HeldRefused(k.Facts.HeldObjects, rs[0].ProgType, objects)
	for i, o := range refused {
		c.Conditions = append(c.Conditions, CannotHold+o)
		c.Detail += "; " + details[i]
	}
	slices.Sort(c.Conditions)
}

// judgeConditions compares the kfunc's conditions with the kernels that offer it to a declared
// program type and showed whether the type may hold its objects: one contradiction per kernel
// whose answer differs from what the registry's condition says of its release.
func judgeConditions(kf *registry.Kfunc, ks []Kernel, a Availability) []contradiction {
	objects := registry.ObjectsHeld(kf.Prototype)
	if len(objects) == 0 {
		return nil
	}
	var cs []contradiction
	for _, tv := range a.Types {
		if !tv.Declared {
			continue
		}
		for i, c := range tv.Cells {
			if c.State != StateOffered || i >= len(ks) {
				continue
			}
			refused, allowed, _ := HeldRefused(ks[i].Facts.HeldObjects, tv.ProgType, objects)
			if len(refused) == 0 && !allowed {
				continue // no evidence
			}
			_, declared := kf.ConditionOn(tv.ProgType, ks[i].Version)
			switch {
			case len(refused) > 0 && !declared:
				reason := fmt.Sprintf("%s programs may not hold %s in a map value, and the registry records no condition", tv.ProgType, strings.Join(refused, ", "))
				cs = append(cs, contradiction{"conditions", fmt.Sprintf("conditions: %s: %s", c.Kernel, reason), reason})
			case len(refused) == 0 && declared:
				reason := fmt.Sprintf("%s programs may hold %s in a map value, yet the registry records a condition", tv.ProgType, strings.Join(objects, ", "))
				cs = append(cs, contradiction{"conditions", fmt.Sprintf("conditions: %s: %s", c.Kernel, reason), reason})
			}
		}
	}
	return cs
}
