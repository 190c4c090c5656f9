// Package kernelbtf finds, in a kernel's own BTF, the attach points the kernel offers: every
// struct_ops kind it registers (in vmlinux and in modules) with the members a struct_ops
// program can implement, and every value of its enum bpf_attach_type. It reads a *btf.Spec and
// nothing else, so the guest agent (from /sys/kernel/btf) and the host (from an image's
// vmlinux, vmimages.ImageBTF) find the same things; it imports nothing of the project.
package kernelbtf

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// wrapperPrefix starts the name of the struct the kernel wraps each struct_ops kind in: for
// kind K, struct bpf_struct_ops_K { <common part>; struct K data; }. 5.10 and 6.1 declare it
// for every kind of bpf_struct_ops_types.h; from 6.9 the registration macro emits it, in the
// BTF of vmlinux or of the module that registers the kind. The kernel's own bookkeeping structs
// share the prefix (bpf_struct_ops_value, _map, _link, _desc, _common_value, _arg_info); none
// of them holds a struct named after its suffix as "data", which is what tells them apart.
const wrapperPrefix = "bpf_struct_ops_"

// MayDeclareKinds reports whether raw BTF (a module's split BTF as /sys/kernel/btf publishes it)
// can declare a struct_ops kind: only if its strings hold the wrapper's prefix. Most modules'
// BTF does not, and need not be parsed to find that out.
func MayDeclareKinds(raw []byte) bool { return bytes.Contains(raw, []byte(wrapperPrefix)) }

// StructOpsKind is one struct_ops kind a kernel registers.
type StructOpsKind struct {
	// Name is the kind's struct name: tcp_congestion_ops, sched_ext_ops, Qdisc_ops.
	Name string
	// Module is the module whose BTF declares the kind, "" for vmlinux.
	Module string
	// Members are the kind's function pointer members, in struct order: what a struct_ops
	// program implements.
	Members []OpsMember
}

// OpsMember is a function pointer member of a struct_ops kind.
type OpsMember struct {
	Name string
	// Index is the member's position among all members of the kind's struct, data members
	// included: the kernel takes it as a struct_ops program's expected attach type.
	Index int
	// Arity is the number of parameters of the member's prototype.
	Arity int
}

// Member returns the kind's function pointer member called name.
func (k StructOpsKind) Member(name string) (OpsMember, bool) {
	for _, m := range k.Members {
		if m.Name == name {
			return m, true
		}
	}
	return OpsMember{}, false
}

// StructOpsKinds returns the struct_ops kinds declared in spec, sorted by name; module names
// the module spec belongs to ("" for vmlinux). For a module's split BTF only the module's own
// types are read, so the kinds of vmlinux are not found again.
func StructOpsKinds(spec *btf.Spec, module string) ([]StructOpsKind, error) {
	var kinds []StructOpsKind
	for typ, err := range spec.All() {
		if err != nil {
			return nil, fmt.Errorf("%s BTF: %w", specName(module), err)
		}
		kinds = appendKind(kinds, typ, module)
	}
	return sortKinds(kinds), nil
}

// VmlinuxStructOpsKinds returns what StructOpsKinds(spec, "") returns, reading only the types
// named like a wrapper in raw, the BTF spec was read from: every type name is in raw's string
// table, so scanning it finds every wrapper without decoding the kernel's hundred thousand
// types (200 ms on this host's kernel, seconds in a guest under TCG, against 5 ms).
func VmlinuxStructOpsKinds(spec *btf.Spec, raw []byte) ([]StructOpsKind, error) {
	var kinds []StructOpsKind
	for _, name := range wrapperNames(raw) {
		types, err := spec.AnyTypesByName(name)
		if err != nil && !errors.Is(err, btf.ErrNotFound) {
			return nil, fmt.Errorf("vmlinux BTF: %w", err)
		}
		for _, typ := range types {
			kinds = appendKind(kinds, typ, "")
		}
	}
	return sortKinds(kinds), nil
}

// wrapperNames returns the distinct strings of raw that start with the wrapper prefix, each
// ending at its NUL: the candidates for a wrapper's name.
func wrapperNames(raw []byte) []string {
	var names []string
	marker := []byte("\x00" + wrapperPrefix)
	for i := 0; ; {
		j := bytes.Index(raw[i:], marker)
		if j < 0 {
			break
		}
		start := i + j + 1
		end := bytes.IndexByte(raw[start:], 0)
		if end < 0 {
			break
		}
		if name := string(raw[start : start+end]); !slices.Contains(names, name) {
			names = append(names, name)
		}
		i = start + end
	}
	return names
}

// appendKind appends the kind typ wraps, when it is a wrapper.
func appendKind(kinds []StructOpsKind, typ btf.Type, module string) []StructOpsKind {
	w, ok := typ.(*btf.Struct)
	if !ok || !strings.HasPrefix(w.Name, wrapperPrefix) {
		return kinds
	}
	if ops, ok := wrappedKind(w); ok {
		kinds = append(kinds, StructOpsKind{Name: ops.Name, Module: module, Members: funcMembers(ops)})
	}
	return kinds
}

func sortKinds(kinds []StructOpsKind) []StructOpsKind {
	slices.SortFunc(kinds, func(a, b StructOpsKind) int { return cmp.Compare(a.Name, b.Name) })
	return kinds
}

// wrappedKind returns the kind struct a bpf_struct_ops_<kind> wrapper holds as "data".
func wrappedKind(w *btf.Struct) (*btf.Struct, bool) {
	kind := strings.TrimPrefix(w.Name, wrapperPrefix)
	for _, m := range w.Members {
		if m.Name != "data" {
			continue
		}
		s, ok := btf.UnderlyingType(m.Type).(*btf.Struct)
		return s, ok && s.Name == kind
	}
	return nil, false
}

// funcMembers returns the members of s that point to a function.
func funcMembers(s *btf.Struct) []OpsMember {
	var out []OpsMember
	for i, m := range s.Members {
		p, ok := btf.UnderlyingType(m.Type).(*btf.Pointer)
		if !ok {
			continue
		}
		if proto, ok := btf.UnderlyingType(p.Target).(*btf.FuncProto); ok {
			out = append(out, OpsMember{Name: m.Name, Index: i, Arity: len(proto.Params)})
		}
	}
	return out
}

// AllStructOpsKinds returns the kinds of vmlinux and of the given modules (module name to the
// module's split BTF), vmlinux's first, then each module's in module name order. A kind two
// specs declare is an error: the kernel would refuse the second registration. raw, when not
// nil, is the BTF vmlinux was read from, which spares decoding all of it (VmlinuxStructOpsKinds).
func AllStructOpsKinds(vmlinux *btf.Spec, raw []byte, modules map[string]*btf.Spec) ([]StructOpsKind, error) {
	var all []StructOpsKind
	var err error
	if raw != nil {
		all, err = VmlinuxStructOpsKinds(vmlinux, raw)
	} else {
		all, err = StructOpsKinds(vmlinux, "")
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if n == "" {
			return nil, errors.New("a module spec without a module name")
		}
		kinds, err := StructOpsKinds(modules[n], n)
		if err != nil {
			return nil, err
		}
		for _, k := range kinds {
			if i := slices.IndexFunc(all, func(o StructOpsKind) bool { return o.Name == k.Name }); i >= 0 {
				return nil, fmt.Errorf("struct_ops kind %s declared by both %s and %s", k.Name, specName(all[i].Module), specName(n))
			}
		}
		all = append(all, kinds...)
	}
	return all, nil
}

func specName(module string) string {
	if module == "" {
		return "vmlinux"
	}
	return "module " + module
}

// AttachType is one value of the kernel's enum bpf_attach_type.
type AttachType struct {
	Name  string // BPF_TRACE_KPROBE_SESSION
	Value uint32
}

// attachTypeEnd is the enum's count marker, not an attach type.
const attachTypeEnd = "__MAX_BPF_ATTACH_TYPE"

// AttachTypes returns the values of spec's enum bpf_attach_type in value order, without its
// count marker. A kernel is built with one such enum: finding none or several is an error.
func AttachTypes(spec *btf.Spec) ([]AttachType, error) {
	var e *btf.Enum
	if err := spec.TypeByName("bpf_attach_type", &e); err != nil {
		return nil, fmt.Errorf("enum bpf_attach_type: %w", err)
	}
	out := make([]AttachType, 0, len(e.Values))
	for _, v := range e.Values {
		if v.Name == attachTypeEnd {
			continue
		}
		if v.Value > uint64(^uint32(0)) {
			return nil, fmt.Errorf("enum bpf_attach_type: %s = %d does not fit an attach type", v.Name, v.Value)
		}
		out = append(out, AttachType{Name: v.Name, Value: uint32(v.Value)})
	}
	slices.SortStableFunc(out, func(a, b AttachType) int { return cmp.Compare(a.Value, b.Value) })
	return out, nil
}
