package registry

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/section"
)

// EmbeddedStructOpsFile is the name under which the embedded struct_ops table reports errors,
// and the file sync writes by default.
const EmbeddedStructOpsFile = "registry/structops.yaml"

// StructOps is the registry's list of the struct_ops kinds the kernels register, with the
// release series that have each function-pointer member: what tells a question about
// struct_ops/KIND.MEMBER naming a member no kernel has (bad input) from one asked on a kernel
// that lacks it (not compatible). Its file, structops.yaml, is proposed by sync from the
// kernels' BTF as the probe records it.
type StructOps struct {
	source
	kinds  []*OpsKind
	byName map[string]*OpsKind
}

// OpsKind is one struct_ops kind with its members in struct order.
type OpsKind struct {
	// Name is the kind's struct name (sched_ext_ops).
	Name string `json:"kind"`
	// Module is the module that registers the kind, "" for vmlinux.
	Module string `json:"module,omitempty"`
	// Members are the kind's function-pointer members in struct order (the newest kernel's,
	// members later kernels dropped after them).
	Members []OpsMember `json:"members"`
}

// OpsMember is one function-pointer member of a struct_ops kind with the first and last release
// series whose kernels have it.
type OpsMember struct {
	// Name is the member's name (enqueue).
	Name string `json:"name"`
	// Since is the first release series that has the member.
	Since Version `json:"since"`
	// Until is the last release series that has it; zero while the newest kernel still has it.
	Until Version `json:"until,omitzero"`
}

// DefaultStructOps returns the struct_ops table embedded in the binary.
func DefaultStructOps() (*StructOps, error) {
	return parseEmbedded(EmbeddedStructOpsFile, embeddedStructOps, ParseStructOps)
}

// LoadStructOps reads and validates a struct_ops file (regular files of at most 16 MiB only).
func LoadStructOps(path string) (*StructOps, error) { return loadFile(path, ParseStructOps) }

// NewStructOps builds a table of kinds (taking the slice), sorted by kind name, as sync
// proposes it; file names it.
func NewStructOps(file string, kinds []*OpsKind) *StructOps {
	slices.SortFunc(kinds, func(a, b *OpsKind) int { return strings.Compare(a.Name, b.Name) })
	t := &StructOps{source: source{file: file}, kinds: kinds, byName: make(map[string]*OpsKind, len(kinds))}
	for _, k := range kinds {
		t.byName[k.Name] = k
	}
	return t
}

// Kinds returns the kinds sorted by name. The slice is a copy; the kinds are shared.
func (t *StructOps) Kinds() []*OpsKind {
	if t == nil {
		return nil
	}
	return slices.Clone(t.kinds)
}

// Kind returns the kind called name.
func (t *StructOps) Kind(name string) (*OpsKind, bool) {
	if t == nil {
		return nil, false
	}
	k, ok := t.byName[name]
	return k, ok
}

// Empty reports whether the table lists no kind: no table was loaded, or its file holds none.
// Questions then name kinds and members unchecked, as before the table existed.
func (t *StructOps) Empty() bool { return t == nil || len(t.kinds) == 0 }

// Member returns the kind's member called name.
func (k *OpsKind) Member(name string) (OpsMember, bool) {
	i := slices.IndexFunc(k.Members, func(m OpsMember) bool { return m.Name == name })
	if i < 0 {
		return OpsMember{}, false
	}
	return k.Members[i], true
}

// memberNames lists the kind's members, for messages.
func (k *OpsKind) memberNames() string {
	names := make([]string, len(k.Members))
	for i, m := range k.Members {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// span returns the first and last series of the kind: its members' earliest since, and their
// latest until, zero when some member is still in the newest kernel.
func (k *OpsKind) span() (since, until Version) {
	open := false
	for i, m := range k.Members {
		if i == 0 || m.Since.Less(since) {
			since = m.Since
		}
		if m.Until.IsZero() {
			open = true
		} else if until.Less(m.Until) {
			until = m.Until
		}
	}
	if open {
		until = Version{}
	}
	return since, until
}

// has reports, for a release series span, whether kernel's series lies in it, and otherwise
// says how it misses ("reached the kernels in 7.3", "left the kernels after 6.16").
func has(since, until, kernel Version) (bool, string) {
	switch series := kernel.Series(); {
	case series.Less(since):
		return false, "reached the kernels in " + since.String()
	case !until.IsZero() && until.Less(series):
		return false, "left the kernels after " + until.String()
	}
	return true, ""
}

// Check answers whether the struct_ops kind and member where names (a libbpf section name)
// exist on kernel (a zero kernel: on some kernel). A where that names no struct_ops kind, or a
// table that lists none (Empty), is no question for it: ok with an empty why. A kind or member
// the table does not list is an error, naming the known ones: the question names something no
// kernel registers. A known one missing from kernel's release series is not ok, and why says
// since or until when it was there ("sched_ext_ops.cgroup_set_idle reached the kernels in 7.3").
func (t *StructOps) Check(where string, kernel Version) (ok bool, why string, err error) {
	s, perr := section.Parse(where)
	if t.Empty() || perr != nil || s.TargetKind != section.StructOpsMember || s.Target == "" {
		return true, "", nil
	}
	kindName, member := s.Kind, s.Member
	if kindName == "" {
		kindName = s.Target
	}
	k, found := t.Kind(kindName)
	if !found {
		return false, "", fmt.Errorf("%s: no kernel registers a struct_ops kind %s (kinds: %s)", t.file, kindName, t.kindNames())
	}
	since, until := k.span()
	name := k.Name
	if member != "" {
		m, found := k.Member(member)
		if !found {
			return false, "", fmt.Errorf("%s: %s has no member %s (members: %s)", t.file, k.Name, member, k.memberNames())
		}
		since, until, name = m.Since, m.Until, k.Name+"."+m.Name
	}
	if kernel.IsZero() {
		return true, "", nil
	}
	if ok, how := has(since, until, kernel); !ok {
		return false, fmt.Sprintf("%s %s, so %s has no such struct_ops %s", name, how, kernel, memberWord(member)), nil
	}
	return true, "", nil
}

// memberWord names what a struct_ops question asked about.
func memberWord(member string) string {
	if member == "" {
		return "kind"
	}
	return "member"
}

// kindNames lists the kinds, for messages.
func (t *StructOps) kindNames() string {
	names := make([]string, len(t.kinds))
	for i, k := range t.kinds {
		names[i] = k.Name
	}
	return strings.Join(names, ", ")
}

// blank reports whether data holds nothing but blank lines and comments: an empty table.
func blank(data []byte) bool {
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if l := bytes.TrimSpace(line); len(l) > 0 && l[0] != '#' {
			return false
		}
	}
	return true
}
