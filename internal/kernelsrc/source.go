package kernelsrc

// Source is what a kernel tree says about kfunc registrations.
type Source struct {
	// Package and DebianVersion name the Debian source package the tree came from
	// (linux-source-6.12, 6.12.118-1); empty for a tree of unknown origin.
	Package       string
	DebianVersion string
	// Kernel is the upstream version from the top Makefile (6.12.118).
	Kernel string
	// Hooks is the switch of bpf_prog_type_to_kfunc_hook in kernel/bpf/btf.c, in its order:
	// the hook each program type's registrations land in and its programs' lookups read.
	Hooks []Hook
	// DefaultHook is what the switch returns for program types it does not list: a hook
	// past the last (BTF_KFUNC_HOOK_MAX), which holds nothing.
	DefaultHook string
	// Sets are the kfunc sets, BTF_KFUNCS_START to BTF_KFUNCS_END, in file order.
	Sets []Set
	// IDSets are the struct btf_kfunc_id_set initializers, which registrations name.
	IDSets []IDSet
	// Registrations are the register_btf_kfunc_id_set calls.
	Registrations []Registration
}

// CommonType is the program type whose registrations every program may call:
// btf_kfunc_id_set_contains looks in its hook before the program's own.
const CommonType = "BPF_PROG_TYPE_UNSPEC"

// Hook maps one program type to a kfunc hook.
type Hook struct {
	ProgType string // BPF_PROG_TYPE_TRACING
	Hook     string // BTF_KFUNC_HOOK_TRACING
}

// Set is one kfunc set.
type Set struct {
	Name   string
	File   string // relative to the tree's top, with slashes
	Line   int
	Kfuncs []Entry
}

// Entry is one BTF_ID_FLAGS(func, Name, Flags...) line of a set.
type Entry struct {
	Name string
	// Flags are the KF_ flags as written (KF_ACQUIRE, KF_RET_NULL).
	Flags []string
	// Guard is the condition the line is compiled under.
	Guard Guard
	Line  int
}

// IDSet is one struct btf_kfunc_id_set initializer.
type IDSet struct {
	Name string
	File string
	Line int
	// Owner is the .owner value as written (THIS_MODULE).
	Owner string
	// Set names the kfunc set .set points to.
	Set string
	// Filter names the .filter callback, "" for none. A filter may refuse the set's kfuncs to
	// some programs of a registered type, depending on the program.
	Filter string
	Guard  Guard
}

// Registration is one register_btf_kfunc_id_set(ProgType, &IDSet) call.
type Registration struct {
	ProgType string // BPF_PROG_TYPE_XDP
	IDSet    string
	File     string
	Line     int
	Guard    Guard
}
