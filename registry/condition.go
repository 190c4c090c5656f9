package registry

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Held objects (issue 18, item 5). Some kfuncs work on an object the program holds: the list
// and rbtree kfuncs on a bpf_list_head or bpf_rb_root (and the nodes hung on it), the resilient
// spin lock kfuncs on a bpf_res_spin_lock, the workqueue kfuncs on a bpf_wq. A program holds
// such an object in a map value, and the verifier refuses some program types a map whose value
// holds it (check_map_prog_compatibility: "tracing progs cannot use bpf_{list_head,rb_root}
// yet"), although their kfunc filter lets the kfunc itself through. Such a kfunc is "offered
// with conditions" to the type: the plain probe answers offered, yet no program of the type
// has anything to call it on. kfuncs.yaml records that per program type under conditions:
//
//	conditions:
//	  tracepoint: {holds: [bpf_list_head], evidence: "probe: 6.12, 7.3 refuse the map: ..."}
//
// holds names the objects (HeldObjectKinds) the type may not hold, each one the prototype takes;
// since, until and gaps say on which releases the condition applies, as a program type's facts
// do (none: on every kernel that offers the kfunc to the type); evidence, required, says which
// kernels showed it. The program type must be one prog_types lists. Only the map value was
// probed: an object the program could hold another way (inside an object of bpf_obj_new) is
// not considered.

// HeldObjectKinds are the objects a program holds for a kfunc, by the kernel struct it holds.
var HeldObjectKinds = []string{"bpf_list_head", "bpf_rb_root", "bpf_res_spin_lock", "bpf_wq"}

// heldObjectOf names the object a prototype's struct stands for: a graph node is of use only
// with the root it hangs on, which is what the program holds.
var heldObjectOf = map[string]string{
	"bpf_list_head": "bpf_list_head", "bpf_list_node": "bpf_list_head",
	"bpf_rb_root": "bpf_rb_root", "bpf_rb_node": "bpf_rb_root",
	"bpf_res_spin_lock": "bpf_res_spin_lock", "bpf_wq": "bpf_wq",
}

var structRE = regexp.MustCompile(`\bstruct\s+([A-Za-z_][A-Za-z0-9_]*)`)

// ObjectsHeld returns the objects (HeldObjectKinds, in that order) a kfunc whose C prototype
// (from the kernel's BTF) is prototype works on: those its parameters point to. The return type
// does not count: bpf_list_front returns a node of a list the program already holds.
func ObjectsHeld(prototype string) []string {
	open := strings.IndexByte(prototype, '(')
	if open < 0 {
		return nil
	}
	seen := map[string]bool{}
	for _, m := range structRE.FindAllStringSubmatch(prototype[open:], -1) {
		if obj, ok := heldObjectOf[m[1]]; ok {
			seen[obj] = true
		}
	}
	var out []string
	for _, k := range HeldObjectKinds {
		if seen[k] {
			out = append(out, k)
		}
	}
	return out
}

// Condition says that a kfunc offered to a program type is of use there only with objects the
// type may not hold, on the releases its Span names.
type Condition struct {
	// Holds are the objects (HeldObjectKinds) the kfunc needs and the type may not hold.
	Holds []string
	// Span holds the releases on which the condition applies: from Since (zero: wherever the
	// kfunc is offered to the type) until Until (zero: still), less Gaps.
	Span
	// Evidence says which kernels showed the refusal, and in what words.
	Evidence string
}

// MarshalJSON writes the condition with the keys of the registry file.
func (c Condition) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Holds    []string `json:"holds"`
		Since    Version  `json:"since,omitzero"`
		Until    Version  `json:"until,omitzero"`
		Gaps     []Gap    `json:"gaps,omitempty"`
		Evidence string   `json:"evidence"`
	}{c.Holds, c.Since, c.Until, c.Gaps, c.Evidence})
}

// AppliesOn reports whether the condition applies on kernel; a zero kernel means any kernel,
// where it applies whenever it applies somewhere.
func (c Condition) AppliesOn(kernel Version) bool {
	if kernel.IsZero() {
		return true
	}
	r, _ := c.rule(kernel)
	return r == offered
}

// Explain says in a sentence what the condition means for name called from progType.
func (c Condition) Explain(name, progType string) string {
	when := c.words()
	s := fmt.Sprintf("%s is offered to %s programs with conditions: it works on a %s held in a map value, which %s programs may not hold",
		name, progType, strings.Join(c.Holds, " or "), progType)
	if len(when) > 0 {
		s += " (" + strings.Join(when, ", ") + ")"
	}
	return s + "; evidence: " + c.Evidence
}

// ConditionOn returns the condition under which the kfunc is offered to progType on kernel (a
// zero kernel: any), when one applies.
func (k *Kfunc) ConditionOn(progType string, kernel Version) (Condition, bool) {
	c, ok := k.Conditions[progType]
	if !ok || !c.AppliesOn(kernel) {
		return Condition{}, false
	}
	return c, true
}

// conditionKeys are the keys of one program type's condition.
const conditionKeys = "holds, since, until, gaps, evidence"

// conditions reads a kfunc's conditions: program type -> its condition.
func (l *loader) conditions(n *yaml.Node) map[string]Condition {
	const what = "conditions"
	return readKeyed(l, n, what, func(kv field) bool { return l.progTypeKey(kv, what) }, l.condition)
}

// condition reads one program type's condition; ok is false when it is unusable (and reported).
func (l *loader) condition(n *yaml.Node, what string) (c Condition, ok bool) {
	before := len(l.errs)
	rec := spanRecord{what: what, keys: conditionKeys, shows: "which kernels showed it", own: func(kv field) bool {
		if kv.key != "holds" {
			return false
		}
		c.Holds = l.strList(kv.valN, what+".holds", nameRE)
		for _, h := range c.Holds {
			if !slices.Contains(HeldObjectKinds, h) {
				l.errorf(kv.valN, "%s.holds: unknown object %s (known: %s)", what, excerpt(h), strings.Join(HeldObjectKinds, ", "))
			}
		}
		return true
	}}
	span, evidence, fs := rec.read(l, n)
	if fs == nil {
		return c, false
	}
	c.Span, c.Evidence = span, evidence
	if _, ok := fs.get("holds"); !ok || len(c.Holds) == 0 {
		l.errorf(n, "%s needs holds: the objects the program type may not hold", what)
	}
	return c, len(l.errs) == before
}

// checkConditions cross-checks a kfunc's conditions against its other facts: each names a type
// prog_types lists, and objects its prototype takes.
func (l *loader) checkConditions(k *Kfunc, fs fields) {
	takes := ObjectsHeld(k.Prototype)
	eachKeyed(fs, "conditions", k.Conditions, func(keyN *yaml.Node, c Condition) {
		if !k.ProgTypes.Contains(keyN.Value) {
			l.errorf(keyN, "conditions names %s, which prog_types does not list", keyN.Value)
		}
		for _, h := range c.Holds {
			if !slices.Contains(takes, h) {
				l.errorf(keyN, "conditions.%s holds %s, which the prototype does not take", keyN.Value, h)
			}
		}
	})
}
