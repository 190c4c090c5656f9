package registry

import (
	"errors"
	"fmt"
	"sort"
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
	// MinKernel is the first release that has it.
	MinKernel Version `json:"min_kernel"`
	// LastKernel is the last release series that has it, for a kfunc a later kernel removed.
	LastKernel Version `json:"last_kernel,omitzero"`
	// Gaps are release-series ranges in which kernels lacked it between MinKernel and now.
	Gaps []Gap `json:"gaps,omitempty"`
	// ProgTypes are the program types that may call it.
	ProgTypes ProgTypes `json:"prog_types"`
	// ProgTypeSince, ProgTypeUntil and ProgTypeGaps mean what they mean for helpers.
	ProgTypeSince map[string]Version `json:"prog_type_since,omitempty"`
	ProgTypeUntil map[string]Version `json:"prog_type_until,omitempty"`
	ProgTypeGaps  map[string][]Gap   `json:"prog_type_gaps,omitempty"`
	// Flags are the kfunc's flags the kernels showed (sleepable, acquire, release, ...).
	Flags []string `json:"flags,omitempty"`
	// Module is the kernel module that defines it; empty for vmlinux.
	Module string `json:"module,omitempty"`
	// Category says what it works on (KfuncCategories).
	Category string `json:"category"`
	// Description is one or two sentences in bpfmatrix's own words; empty until written.
	Description string `json:"description,omitempty"`
	// Sources says where each fact came from, by field name.
	Sources map[string]string `json:"sources,omitempty"`
	// Notes records remarks for reviewers.
	Notes string `json:"notes,omitempty"`

	line int
}

// Line returns the line of the kfunc file where the entry starts.
func (k *Kfunc) Line() int { return k.line }

func (k *Kfunc) availability() availability {
	return availability{k.MinKernel, k.ProgTypes, k.ProgTypeSince, k.ProgTypeUntil, k.ProgTypeGaps}
}

// Exists reports whether the registry declares the kfunc present on kernel (between MinKernel
// and LastKernel, outside Gaps), and says why not when it does not.
func (k *Kfunc) Exists(kernel Version) (bool, string) {
	switch {
	case kernel.Less(k.MinKernel):
		return false, fmt.Sprintf("%s first appeared in %s, newer than %s", k.Name, k.MinKernel, kernel)
	case !k.LastKernel.IsZero() && k.LastKernel.before(kernel):
		return false, fmt.Sprintf("%s was removed after %s", k.Name, k.LastKernel)
	}
	for _, g := range k.Gaps {
		if g.Contains(kernel) {
			return false, fmt.Sprintf("%s was missing from kernels %s (gaps), which includes %s", k.Name, g, kernel)
		}
	}
	return true, ""
}

// OfferedTo reports whether the registry declares the kfunc callable from progType on kernel
// (a zero kernel: any kernel).
func (k *Kfunc) OfferedTo(progType string, kernel Version) bool {
	ok, _ := k.Check(progType, kernel)
	return ok
}

// Check answers OfferedTo with the sentence that decided it.
func (k *Kfunc) Check(progType string, kernel Version) (bool, string) {
	if !kernel.IsZero() {
		if ok, why := k.Exists(kernel); !ok {
			return false, why
		}
	}
	r, gap := k.availability().rule(progType, kernel)
	switch r {
	case offered:
		return true, fmt.Sprintf("%s may be called from %s programs", k.Name, progType)
	case notListed:
		return false, fmt.Sprintf("%s is not callable from %s programs (declared: %s)", k.Name, progType, k.ProgTypes)
	case beforeSince:
		return false, fmt.Sprintf("%s reached %s programs in %s, newer than %s", k.Name, progType, k.ProgTypeSince[progType], kernel)
	case inGap:
		return false, fmt.Sprintf("%s was withdrawn from %s programs in %s (prog_type_gaps), which includes %s", k.Name, progType, gap, kernel)
	case afterUntil:
		return false, fmt.Sprintf("%s was withdrawn from %s programs after %s", k.Name, progType, k.ProgTypeUntil[progType])
	}
	return false, fmt.Sprintf("%s first appeared in %s, newer than %s", k.Name, k.MinKernel, kernel)
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
	for _, t := range sortedKeys(k.ProgTypeSince) {
		fmt.Fprintf(&b, "    %s from %s\n", t, k.ProgTypeSince[t])
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
	file   string
	sum    string
	kfuncs []*Kfunc // name order
	byName map[string]*Kfunc
}

// File names the file the table came from.
func (r *Kfuncs) File() string { return r.file }

// SHA256 is the hash of the file's bytes.
func (r *Kfuncs) SHA256() string { return r.sum }

// All returns every entry in name order.
func (r *Kfuncs) All() []*Kfunc { return append([]*Kfunc(nil), r.kfuncs...) }

// Len is the number of entries.
func (r *Kfuncs) Len() int { return len(r.kfuncs) }

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

// Categories lists the categories used, sorted.
func (r *Kfuncs) Categories() []string {
	seen := map[string]bool{}
	for _, k := range r.kfuncs {
		seen[k.Category] = true
	}
	return sortedKeys(seen)
}

// Available returns the kfuncs callable from progType (on kernel, when not nil).
func (r *Kfuncs) Available(progType string, kernel *Version) ([]*Kfunc, error) {
	if _, ok := ProgTypeID(progType); !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownProgType, progType)
	}
	var out []*Kfunc
	for _, k := range r.kfuncs {
		v := Version{}
		if kernel != nil {
			v = *kernel
		}
		if k.OfferedTo(progType, v) {
			out = append(out, k)
		}
	}
	return out, nil
}

// Compatible reports whether kfunc name may be called from progType on kernel, with the reason.
func (r *Kfuncs) Compatible(name, progType string, kernel Version) (bool, string, error) {
	k, err := r.Find(name)
	if err != nil {
		return false, "", err
	}
	if _, ok := ProgTypeID(progType); !ok {
		return false, "", fmt.Errorf("%w: %q", ErrUnknownProgType, progType)
	}
	ok, why := k.Check(progType, kernel)
	return ok, why, nil
}

func newKfuncs(file string, data []byte, ks []*Kfunc) *Kfuncs {
	sort.Slice(ks, func(i, j int) bool { return ks[i].Name < ks[j].Name })
	r := &Kfuncs{file: file, sum: sum256(data), kfuncs: ks, byName: map[string]*Kfunc{}}
	for _, k := range ks {
		r.byName[k.Name] = k
	}
	return r
}

// NewProgTypes returns the set of the named program types, in kernel enum order.
func NewProgTypes(types []string) ProgTypes {
	want := map[string]bool{}
	for _, t := range types {
		want[t] = true
	}
	var out []string
	for _, t := range ProgTypeNames() {
		if want[t] {
			out = append(out, t)
		}
	}
	return ProgTypes{Types: out}
}
