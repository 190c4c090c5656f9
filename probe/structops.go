package probe

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/kernelbtf"
)

// kindAliases are the short names variants of a struct_ops kind had before kinds were discovered:
// selectors and results kept them ("struct_ops/tcp_ca", "struct_ops/tcp_ca.release").
var kindAliases = map[string]string{"tcp_congestion_ops": "tcp_ca"}

// sentinelMembers are the members a kind's sentinel tries first, where it has a history: the
// tcp_congestion_ops sentinel was cong_avoid before kinds were discovered. Other kinds try their
// members in struct order.
var sentinelMembers = map[string]string{"tcp_congestion_ops": "cong_avoid"}

// kindName is the variant name of kind's sentinel, and the prefix of its members' names.
func kindName(kind string) string {
	if a, ok := kindAliases[kind]; ok {
		return a
	}
	return kind
}

// structOpsKinds returns the struct_ops kinds of vmlinux and of every loaded module whose BTF
// the kernel publishes. A module whose BTF cannot be read is left out with a log line: the kinds
// of vmlinux do not depend on it.
func structOpsKinds(k *kernelBTF, dir string, log io.Writer) ([]kernelbtf.StructOpsKind, error) {
	modules := map[string]*btf.Spec{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, path := range paths {
		name := filepath.Base(path)
		if name == "vmlinux" {
			continue
		}
		spec, err := loadModuleBTF(path, k.spec)
		if err != nil {
			fmt.Fprintf(log, "probe: module %s BTF not read: %v\n", name, err)
			continue
		}
		if spec != nil {
			modules[name] = spec
		}
	}
	return kernelbtf.AllStructOpsKinds(k.spec, k.raw, modules)
}

// loadModuleBTF parses one module's split BTF, or returns nil for a module whose BTF cannot
// declare a struct_ops kind (most of them), sparing the guest their parse.
func loadModuleBTF(path string, base *btf.Spec) (*btf.Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil || !kernelbtf.MayDeclareKinds(raw) {
		return nil, err
	}
	return btf.LoadSplitSpecFromReader(bytes.NewReader(raw), base)
}

// expandKinds replaces the struct_ops placeholder among specs by one sentinel variant per
// kind the kernel declares and one variant per member (see scope.go for what each is asked),
// keeping those the placeholder's selectors name. Kinds declared by a module are left out with a
// log line: their loads need the module's BTF object, which the probe does not hold open.
func expandKinds(specs []*variantSpec, kinds []kernelbtf.StructOpsKind, log io.Writer) ([]*variantSpec, error) {
	i := slices.IndexFunc(specs, func(s *variantSpec) bool { return s.expand })
	if i < 0 {
		return specs, nil
	}
	only := specs[i].only
	var out []*variantSpec
	matched := map[string]bool{}
	for _, kind := range kinds {
		if kind.Module != "" {
			fmt.Fprintf(log, "probe: struct_ops kind %s of module %s not probed\n", kind.Name, kind.Module)
			continue
		}
		sel := selectKind(kind, only, matched)
		if sel == nil {
			continue
		}
		out = append(out, kindSpecs(kind, sel)...)
	}
	for _, o := range only {
		if !matched[o] {
			return nil, fmt.Errorf("%w: %q: this kernel declares no such struct_ops kind or member", ErrUnknownVariant, "struct_ops/"+o)
		}
	}
	return slices.Concat(specs[:i], out, specs[i+1:]), nil
}

// selectKind returns which members of kind the selectors choose: nil for none, an empty map for
// all of them (no selector, or one naming the kind), else the named members. It marks the
// selectors it matches.
func selectKind(kind kernelbtf.StructOpsKind, only []string, matched map[string]bool) map[string]bool {
	if len(only) == 0 {
		return map[string]bool{}
	}
	var sel map[string]bool
	for _, o := range only {
		k, member, hasMember := strings.Cut(o, ".")
		if k != kind.Name && k != kindName(kind.Name) {
			continue
		}
		if hasMember {
			if _, ok := kind.Member(member); !ok {
				continue
			}
		}
		matched[o] = true
		switch {
		case !hasMember:
			return map[string]bool{}
		case sel == nil:
			sel = map[string]bool{member: true}
		default:
			sel[member] = true
		}
	}
	return sel
}

// kindSpecs returns kind's sentinel (tried at each member in turn, preferred member first) and
// a variant per member selected; when members is empty, every member and the sentinel's
// sleepable counterpart.
func kindSpecs(kind kernelbtf.StructOpsKind, members map[string]bool) []*variantSpec {
	name := kindName(kind.Name)
	sentinel := &variantSpec{
		progType: "struct_ops", name: name, section: "struct_ops/" + kind.Name, target: targetMember,
		discovered: true, kind: kind.Name, sentinel: true,
	}
	if m, ok := kind.Member(sentinelMembers[kind.Name]); ok {
		sentinel.candidates = append(sentinel.candidates, kind.Name+"."+m.Name)
	}
	// The kind's sleepable programs: at the first member that loads one (the kind's own
	// check_member decides which may sleep), asked what the sentinel found sleepable-only.
	sleepable := &variantSpec{
		progType: "struct_ops", name: name + ".s", section: "struct_ops.s/" + kind.Name, target: targetMember,
		sleepable: true, discovered: true, kind: kind.Name, helpers: scopeSleepable, kfuncs: scopeSleepable,
	}
	out := []*variantSpec{sentinel}
	if len(members) == 0 {
		out = append(out, sleepable)
	}
	for _, m := range kind.Members {
		if !slices.Contains(sentinel.candidates, kind.Name+"."+m.Name) {
			sentinel.candidates = append(sentinel.candidates, kind.Name+"."+m.Name)
		}
		if len(members) > 0 && !members[m.Name] {
			continue
		}
		out = append(out, &variantSpec{
			progType: "struct_ops", name: name + "." + m.Name, section: "struct_ops/" + kind.Name + "." + m.Name,
			target: targetMember, candidates: []string{kind.Name}, member: m.Name,
			discovered: true, kind: kind.Name, helpers: scopeMember, kfuncs: scopeMember,
		})
	}
	sleepable.candidates = sentinel.candidates
	return out
}

// dropSentinelMembers removes the member variants whose member the sentinel of their kind was
// loaded at (the sentinel answers for that member already), and those of a kind without a
// sentinel: what a member is asked depends on its sentinel's answers.
func dropSentinelMembers(vs []*variant) []*variant {
	at := map[string]string{}
	for _, v := range vs {
		if v.spec.sentinel && v.info.Usable {
			at[v.spec.kind] = v.info.Target
		}
	}
	return slices.DeleteFunc(vs, func(v *variant) bool {
		if v.spec.kind == "" || v.spec.sentinel {
			return false
		}
		target, ok := at[v.spec.kind]
		return !ok || target == v.spec.kind+"."+v.spec.member
	})
}

// expandStructOps expands the struct_ops placeholder with the kinds of the kernel's BTF (see
// expandKinds); without BTF the placeholder stays, unusable for want of a target.
func (p *Prober) expandStructOps(specs []*variantSpec, k *kernelBTF) ([]*variantSpec, error) {
	if k == nil || !slices.ContainsFunc(specs, func(s *variantSpec) bool { return s.expand }) {
		return specs, nil
	}
	kinds, err := structOpsKinds(k, vmlinuxBTFDir, p.opts.Log)
	if err != nil {
		return nil, fmt.Errorf("probe: struct_ops kinds: %w", err)
	}
	p.facts.StructOps = structOpsFacts(kinds)
	specs, err = expandKinds(specs, kinds, p.opts.Log)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	return specs, nil
}

// specNamed returns the fixed variant spec called name or, for a struct_ops variant named after a
// kind's alias ("tcp_ca", "tcp_ca.release"), the spec of the member it is loaded at: the kind's
// preferred sentinel member for the bare alias.
func specNamed(name string) (*variantSpec, bool) {
	for i := range variantSpecs {
		if s := &variantSpecs[i]; s.name == name && !s.expand {
			return s, true
		}
	}
	alias, member, _ := strings.Cut(name, ".")
	for kind, a := range kindAliases {
		if a != alias {
			continue
		}
		if member == "" {
			member = sentinelMembers[kind]
		}
		return &variantSpec{progType: "struct_ops", name: name, target: targetMember, candidates: []string{kind}, member: member}, true
	}
	return nil, false
}
