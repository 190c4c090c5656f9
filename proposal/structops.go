package proposal

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// structOpsSeen is what the kernels showed of one kind: the kernels that have each member, in
// kernel order, and the member order and module of the newest kernel that has the kind.
type structOpsSeen struct {
	module  string
	order   []string
	members map[string][]registry.Version // member -> the series of the kernels that have it
}

// StructOps proposes the struct_ops table from the kernels' records of the kinds their BTF
// registers (observation.Facts.StructOps): per member, the first and last release series that
// have it, until left open while the newest kernel still has it. Failed kernels and kernels
// without a record (no BTF, or an agent older than the record) say nothing. The observations
// decide within the series they cover; existing's facts (nil for none) stand outside them: a
// since older than the oldest kernel observed, and kinds and members no kernel showed, are kept.
// file names the proposed table.
func StructOps(existing *registry.StructOps, kernels []verdict.Kernel, file string) *registry.StructOps {
	ks := slices.DeleteFunc(slices.Clone(kernels), func(k verdict.Kernel) bool { return k.Failed || len(k.Facts.StructOps) == 0 })
	slices.SortStableFunc(ks, func(a, b verdict.Kernel) int { return a.Version.Compare(b.Version) })
	if len(ks) == 0 {
		return registry.NewStructOps(file, existing.Kinds())
	}
	seen := map[string]*structOpsSeen{}
	for _, k := range ks {
		for _, kind := range k.Facts.StructOps {
			noteKind(seen, kind, k.Version.Series())
		}
	}
	oldest, newest := ks[0].Version.Series(), ks[len(ks)-1].Version.Series()
	var kinds []*registry.OpsKind
	for name, s := range seen {
		prev, _ := existing.Kind(name)
		kinds = append(kinds, proposeKind(name, s, prev, oldest, newest))
	}
	for _, prev := range existing.Kinds() {
		if seen[prev.Name] == nil {
			kinds = append(kinds, prev)
		}
	}
	return registry.NewStructOps(file, kinds)
}

// noteKind records that a kernel of series has kind.
func noteKind(seen map[string]*structOpsSeen, kind observation.StructOpsKind, series registry.Version) {
	s := seen[kind.Kind]
	if s == nil {
		s = &structOpsSeen{members: map[string][]registry.Version{}}
		seen[kind.Kind] = s
	}
	s.module = kind.Module
	order := slices.Clone(kind.Members)
	for _, m := range s.order {
		if !slices.Contains(order, m) {
			order = append(order, m) // a member newer kernels dropped stays, after theirs
		}
	}
	s.order = order
	for _, m := range kind.Members {
		if vs := s.members[m]; len(vs) == 0 || vs[len(vs)-1] != series {
			s.members[m] = append(vs, series)
		}
	}
}

// proposeKind is one kind of the proposal: its members as the kernels showed them, then those of
// prev (nil for none) that no kernel showed.
func proposeKind(name string, s *structOpsSeen, prev *registry.OpsKind, oldest, newest registry.Version) *registry.OpsKind {
	k := &registry.OpsKind{Name: name, Module: s.module}
	for _, m := range s.order {
		vs := s.members[m]
		om := registry.OpsMember{Name: m, Since: vs[0]}
		if last := vs[len(vs)-1]; last != newest {
			om.Until = last
		}
		if prev != nil {
			if p, ok := prev.Member(m); ok && p.Since.Less(oldest) && !p.Since.IsZero() && vs[0] == oldest {
				om.Since = p.Since // the kernels observed start after it
			}
		}
		k.Members = append(k.Members, om)
	}
	if prev != nil {
		for _, p := range prev.Members {
			if _, ok := s.members[p.Name]; !ok {
				k.Members = append(k.Members, p)
			}
		}
	}
	return k
}

// FormatStructOps renders t as its file: a header saying where it comes from, then one entry
// per kind with a member a line, which ParseStructOps reads back.
func FormatStructOps(t *registry.StructOps) []byte {
	var b strings.Builder
	b.WriteString(`# The struct_ops kinds the kernels' BTF registers, with the first and last release series that
# have each function-pointer member (until is left out while the newest kernel has it).
# bpfmatrix kfuncs sync proposes this file from the kernels' observations; questions naming
# struct_ops/KIND.MEMBER are checked against it.
`)
	kinds := t.Kinds()
	if len(kinds) == 0 {
		b.WriteString("[]\n")
	}
	for _, k := range kinds {
		fmt.Fprintf(&b, "- kind: %s\n", k.Name)
		if k.Module != "" {
			fmt.Fprintf(&b, "  module: %s\n", k.Module)
		}
		b.WriteString("  members:\n")
		for _, m := range k.Members {
			fmt.Fprintf(&b, "    %s: {since: %q", m.Name, m.Since.String())
			if !m.Until.IsZero() {
				fmt.Fprintf(&b, ", until: %q", m.Until.String())
			}
			b.WriteString("}\n")
		}
	}
	return []byte(b.String())
}
