// Package section reads BPF program section names as users write them in libbpf's SEC() macro
// ("kprobe.session/do_unlinkat", "iter/tcp", "lsm.s/file_open", "cgroup/connect_unix",
// "struct_ops/sched_ext_ops.enqueue") and says what they mean to the kernel: the program type,
// the expected attach type, whether the program is sleepable, and the attach target when the name
// gives one. It also accepts the bare program type names the registry uses ("sched_cls",
// "tracing"), each standing for its type's default attachment, so that one word answers both
// kinds of question.
//
// The package is a leaf: it imports nothing of the project, so the registry (whose facts are
// keyed by attach point), the probe plan and the command line can all use it. Program types are
// named as registry.KnownProgTypes names them and attach types as the kernel's enum
// bpf_attach_type does (BPF_TRACE_KPROBE_SESSION); the package's tests hold it to both.
package section

import (
	"fmt"
	"strings"
)

// maxLen bounds the names Parse reads: libbpf's section names are ELF section names, and no
// real one comes near this.
const maxLen = 4096

// Section is what a section name means.
type Section struct {
	// Name is the section name as given.
	Name string
	// Prefix is the table entry that matched: libbpf's section prefix ("kprobe.session",
	// "cgroup/connect_unix") or, with ProgTypeName, a program type name.
	Prefix string
	// ProgTypeName reports that Name is a bare program type name rather than a libbpf section;
	// the section then stands for the type's default attachment.
	ProgTypeName bool
	// ProgType is the program type as the registry names it (registry.KnownProgTypes).
	ProgType string
	// AttachType is the enum bpf_attach_type name libbpf loads the program with as expected
	// attach type; "" means none (0). For struct_ops the kernel reads the expected attach type
	// as the index of the member the program implements, which only the kernel's BTF gives.
	AttachType string
	// AttachOptional reports that libbpf loads with 0 instead when the kernel lacks AttachType
	// (usdt: when the kernel lacks uprobe multi links; the others: kernels before 4.17).
	AttachOptional bool
	// Sleepable reports that the program is loaded with BPF_F_SLEEPABLE.
	Sleepable bool
	// XDPFrags reports that the program is loaded with BPF_F_XDP_HAS_FRAGS.
	XDPFrags bool
	// TargetKind says what the text after the prefix's '/' names; None for a section that
	// takes no target. A section that may take one but does not give it has its TargetKind
	// set and Target empty: libbpf then expects the target at run time.
	TargetKind TargetKind
	// Target is the attach target as written after "Prefix/", "" when there is none.
	Target string
	// Module is the kernel module a KernelFunc target names ("nf_conntrack" in
	// "fentry/nf_conntrack:nf_confirm"), "" for vmlinux. Target then holds the function alone.
	Module string
	// Kind and Member are, for struct_ops/KIND.MEMBER, the struct_ops kind (the kernel's
	// struct, e.g. sched_ext_ops) and the member the program implements. A struct_ops section
	// whose target has no '.' names only the program, as libbpf lets it, and leaves both empty.
	Kind, Member string
	canonical    string
}

// Error is the error of a name Parse cannot read: Name is the name, Reason says what is wrong
// with it. Command lines treat it as bad input.
type Error struct {
	Name, Reason string
}

// Error names the section, shortened when long, and what is wrong with it.
func (e *Error) Error() string { return fmt.Sprintf("section %q: %s", short(e.Name), e.Reason) }

// short cuts a long name for a message: the first bytes say enough, and a message as long as
// the input helps nobody.
func short(s string) string {
	const keep = 64
	if len(s) <= keep+16 {
		return s
	}
	return s[:keep] + "..."
}

// Parse reads a section name. A name no libbpf section and no program type matches, a target
// where the section takes none, and a target of the wrong shape are errors of type *Error; with
// an error about the target, the Section returned still says what the prefix means (program type,
// attach type, the target as written), which is what a loader of a compiled object goes by.
func Parse(name string) (Section, error) {
	switch {
	case name == "":
		return Section{}, &Error{Name: name, Reason: "empty section name"}
	case len(name) > maxLen:
		return Section{}, &Error{Name: name, Reason: fmt.Sprintf("%d bytes long, more than any section name (%d)", len(name), maxLen)}
	}
	r, ok := lookup(name)
	if !ok {
		return Section{}, &Error{Name: name, Reason: unknownReason(name)}
	}
	s := Section{
		Name: name, Prefix: r.prefix, ProgTypeName: r.progTypeName, ProgType: r.progType,
		AttachType: r.attach, AttachOptional: r.flags&attachOpt != 0, Sleepable: r.flags&sleepable != 0,
		XDPFrags: r.flags&frags != 0, TargetKind: r.target, canonical: r.canonical,
	}
	if len(name) > len(r.prefix) {
		s.Target = name[len(r.prefix)+1:]
		if err := s.readTarget(); err != nil {
			// What the prefix means still holds: a loader takes a program whose target is a
			// placeholder (a tool fills in kprobe/skb-1 when it starts); only attaching fails.
			return s, err
		}
	}
	return s, nil
}

// lookup returns the first row matching name, libbpf's rows first, in libbpf's order.
func lookup(name string) (row, bool) {
	for _, rows := range [][]row{libbpfRows, progTypeRows} {
		for _, r := range rows {
			if name == r.prefix || r.match == plus && strings.HasPrefix(name, r.prefix+"/") {
				return r, true
			}
		}
	}
	return row{}, false
}

// unknownReason says why no row matches name, naming what comes closest.
func unknownReason(name string) string {
	head, _, hasSlash := strings.Cut(name, "/")
	var near []string
	for _, rows := range [][]row{libbpfRows, progTypeRows} {
		for _, r := range rows {
			if hasSlash && r.prefix == head && r.match == exact {
				return fmt.Sprintf("%q takes no attach target", head)
			}
			if strings.HasPrefix(r.prefix, head+"/") {
				near = append(near, r.prefix)
			}
		}
	}
	if len(near) > 0 {
		return fmt.Sprintf("no libbpf section %q; those starting with %q are %s", short(name), head+"/", strings.Join(near, ", "))
	}
	return fmt.Sprintf("%q is neither a libbpf section prefix nor a program type name", short(head))
}

// Key names the attach point the section stands for, the way facts about attach points are
// keyed: the canonical spelling of the prefix ("tracepoint" for "tp", "tcx/ingress" for
// "tc/ingress"), then '/' and the target if there is one. A struct_ops section keys by
// "struct_ops/KIND.MEMBER" (or "struct_ops/KIND"), never by a program's own name, which says
// nothing about where it attaches.
func (s Section) Key() string {
	base := s.Base()
	switch {
	case s.TargetKind == StructOpsMember && s.Kind == "":
		return base
	case s.Target == "":
		return base
	case s.Module != "":
		return base + "/" + s.Module + ":" + s.Target
	}
	return base + "/" + s.Target
}

// Base is the canonical spelling of the section's prefix, without its target.
func (s Section) Base() string {
	if s.canonical != "" {
		return s.canonical
	}
	return s.Prefix
}

// BTFTarget returns the name and kind of the kernel BTF type the program's attach_btf_id must
// point at, as libbpf resolves it: "btf_trace_EVENT" (a typedef) for tp_btf, "bpf_lsm_HOOK" for
// lsm, "bpf_iter_NAME" for iter and the function itself for fentry, fexit, fmod_ret and
// fsession (all functions). ok is false when the section names no such target.
func (s Section) BTFTarget() (name string, typedef, ok bool) {
	if s.Target == "" {
		return "", false, false
	}
	switch s.TargetKind {
	case BTFTracepoint:
		return "btf_trace_" + s.Target, true, true
	case LSMHook:
		return "bpf_lsm_" + s.Target, false, true
	case Iterator:
		return "bpf_iter_" + s.Target, false, true
	case KernelFunc:
		return s.Target, false, true
	}
	return "", false, false
}

// String returns the section name as given.
func (s Section) String() string { return s.Name }

// Known returns every section prefix and program type name Parse accepts, each read as if
// written alone (no target), libbpf's sections first in libbpf's order, then the program type
// names that are no libbpf section: what a command line can list, and what a probe plan can
// enumerate attach points from.
func Known() []Section {
	out := make([]Section, 0, len(libbpfRows)+len(progTypeRows))
	for _, rows := range [][]row{libbpfRows, progTypeRows} {
		for _, r := range rows {
			s, err := Parse(r.prefix)
			if err != nil || s.Prefix != r.prefix {
				panic(fmt.Sprintf("section table: row %q does not read back as itself: %v", r.prefix, err))
			}
			out = append(out, s)
		}
	}
	return out
}
