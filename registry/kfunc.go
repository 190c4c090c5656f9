package registry

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrUnknownKfunc is returned (wrapped) for a kfunc name the kfunc registry does not hold.
var ErrUnknownKfunc = errors.New("unknown kfunc")

// KfuncCategories are the categories of kfuncs: what a kfunc works on.
var KfuncCategories = []string{
	"task", "cgroup", "cpumask", "dynptr", "iter", "graph", "object", "sync", "sched_ext", "crypto",
	"network", "xdp", "qdisc", "file", "memory", "trace", "debug", "map", "string", "hid", "time", "lsm", "misc",
}

// Kfunc is one kfunc's registry entry: a kernel function BPF programs call by its BTF id. Unlike
// a helper it has no number, and its prototype is typed (from the kernel's BTF).
type Kfunc struct {
	// Name is the kernel function's name, as BPF programs declare it (bpf_get_task_exe_file).
	Name string `json:"name"`
	// Prototype is its C prototype as the newest kernel's BTF gives it.
	Prototype string `json:"prototype"`
	// Availability holds the kernels and program types the kfunc is offered to.
	Availability
	// Conditions holds, per program type the kfunc is offered to, the condition under which it
	// is of use there: the objects it works on that programs of the type may not hold
	// (condition.go). A kfunc with a condition for a type is "offered with conditions" there.
	Conditions map[string]Condition `json:"conditions,omitempty"`
	// Flags are the kfunc's flags the kernels showed (sleepable, acquire, release, ...).
	Flags []string `json:"flags,omitempty"`
	// Module is the kernel module that defines it; empty for vmlinux.
	Module string `json:"module,omitempty"`
	// Category says what it works on (KfuncCategories).
	Category string `json:"category"`
	// Description is one or two sentences in bpfmatrix's own words; empty until written.
	Description string `json:"description,omitempty"`
	// Remarks say where each fact came from and what reviewers should know.
	Remarks

	line int
}

// Line returns the line of the kfunc file where the entry starts.
func (k *Kfunc) Line() int { return k.line }

// Exists reports whether the registry declares the kfunc present on kernel (between MinKernel
// and LastKernel, outside Gaps), and says why not when it does not.
func (k *Kfunc) Exists(kernel Version) (bool, string) {
	r, gap := k.presence(kernel)
	return r == offered, k.explain(k.Name, "", r, gap, "", kernel)
}

// Check answers OfferedTo with the sentence that decided it. Whether the kernel has the kfunc
// at all is decided first, so that the sentence names that rather than the program type.
func (k *Kfunc) Check(progType string, kernel Version) (bool, string) {
	if !kernel.IsZero() {
		if ok, why := k.Exists(kernel); !ok {
			return false, why
		}
	}
	r, gap := k.rule(progType, kernel)
	if r == offered {
		return true, fmt.Sprintf("%s may be called from %s programs", k.Name, progType)
	}
	return false, k.explain(k.Name, "callable from", r, gap, progType, kernel)
}

// CheckAt is Check for where, a program type or a libbpf section name (Availability.Locate):
// a bare program type answers as Check unless its default attachment has facts of its own; an
// attach point with facts is answered by them;
// one without is answered for its program type, and the place's Note says so. For a bare
// program type, the Note names the attach points of the type whose facts answer otherwise.
func (k *Kfunc) CheckAt(where string, kernel Version) (bool, string, Place, error) {
	p, err := k.Locate(where)
	if err != nil {
		return false, "", p, err
	}
	if p.Key == "" {
		p.Note = k.answerNote(p, kernel)
		ok, why := k.Check(p.ProgType(), kernel)
		return ok, why, p, nil
	}
	p.Note = k.answerNote(p, kernel)
	r, gap := k.ruleAt(p, kernel) // presence first, as Check does
	return r == offered, k.explainAt(k.Name, "callable from", r, gap, p, kernel), p, nil
}

// Describe renders the entry for people.
func (k *Kfunc) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", k.Prototype)
	fmt.Fprintf(&b, "  kfunc, category %s, since %s", k.Category, k.MinKernel)
	if !k.LastKernel.IsZero() {
		fmt.Fprintf(&b, ", removed after %s", k.LastKernel)
	}
	if k.Module != "" {
		fmt.Fprintf(&b, ", module %s", k.Module)
	}
	fmt.Fprintf(&b, "\n  program types: %s\n", k.ProgTypes)
	for _, t := range slices.Sorted(maps.Keys(k.ProgTypeSince)) {
		fmt.Fprintf(&b, "    %s from %s\n", t, k.ProgTypeSince[t])
	}
	k.describePoints(&b)
	for _, t := range slices.Sorted(maps.Keys(k.Conditions)) {
		c := k.Conditions[t]
		fmt.Fprintf(&b, "  offered with conditions: %s\n", c.Explain(k.Name, t))
	}
	if len(k.Flags) > 0 {
		fmt.Fprintf(&b, "  flags: %s\n", strings.Join(k.Flags, ", "))
	}
	if k.Description != "" {
		fmt.Fprintf(&b, "  %s\n", k.Description)
	}
	return b.String()
}

// Kfuncs is a loaded, validated kfunc table, immutable after loading.
type Kfuncs struct {
	table[*Kfunc] // name order
}

// All returns every entry in name order.
func (r *Kfuncs) All() []*Kfunc { return slices.Clone(r.entries) }

// Lookup finds an entry by name.
func (r *Kfuncs) Lookup(name string) (*Kfunc, bool) {
	k, ok := r.byName[name]
	return k, ok
}

// Find is Lookup with an error that names the unknown kfunc.
func (r *Kfuncs) Find(name string) (*Kfunc, error) {
	if k, ok := r.byName[name]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKfunc, name)
}

// Available returns the kfuncs callable from where, a program type or a section name (on kernel,
// when not nil).
func (r *Kfuncs) Available(where string, kernel *Version) ([]*Kfunc, error) {
	return r.available(where, kernel, (*Kfunc).OfferedTo)
}

// CompatibleAt is Compatible for where, a program type or a libbpf section name (see
// Kfunc.CheckAt), with the place that answered.
func (r *Kfuncs) CompatibleAt(name, where string, kernel Version) (bool, string, Place, error) {
	k, err := r.Find(name)
	if err != nil {
		return false, "", Place{}, err
	}
	return k.CheckAt(where, kernel)
}

// Compatible reports whether kfunc name may be called from progType on kernel, with the reason.
func (r *Kfuncs) Compatible(name, progType string, kernel Version) (bool, string, error) {
	k, err := r.Find(name)
	if err != nil {
		return false, "", err
	}
	if err := knownProgType(progType); err != nil {
		return false, "", err
	}
	ok, why := k.Check(progType, kernel)
	return ok, why, nil
}

func newKfuncs(file string, data []byte, ks []*Kfunc) *Kfuncs {
	return &Kfuncs{table: newTable(file, data, ks, func(a, b *Kfunc) int { return strings.Compare(a.Name, b.Name) })}
}
