package registry

import (
	"regexp"

	"go.yaml.in/yaml/v3"
)

// structOpsNameRE is what a kind or member name may be: a C identifier (Qdisc_ops has capitals).
var structOpsNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseStructOps validates data, the contents of a struct_ops file called file: a YAML sequence
// of kinds, each a mapping of kind, members (a mapping of member name to its since and until)
// and module when the kind is not vmlinux's. Unknown keys, duplicate kinds or members and bad
// versions are errors with file:line, as in helpers.yaml. A file of comments alone, or `[]`,
// is an empty table: questions then name kinds and members unchecked.
func ParseStructOps(file string, data []byte) (*StructOps, error) {
	if blank(data) {
		return NewStructOps(file, nil), nil
	}
	kinds, _, err := readSequence(file, data, "struct_ops kinds", (*loader).opsKind, func(k *OpsKind) []uniqueFact {
		return []uniqueFact{{k.Name, "kind " + excerpt(k.Name)}}
	})
	if err != nil {
		return nil, err
	}
	t := NewStructOps(file, kinds)
	t.source = newSource(file, data)
	return t, nil
}

// opsKind reads one kind; it returns false, with the problems recorded, when anything is wrong.
func (l *loader) opsKind(n *yaml.Node) (*OpsKind, bool) {
	fs := l.mapping(n, "struct_ops kind")
	if fs == nil {
		return nil, false
	}
	before := len(l.errs)
	k := &OpsKind{}
	for _, req := range []string{"kind", "members"} {
		if _, ok := fs.get(req); !ok {
			l.errorf(n, "struct_ops kind is missing required key %q", req)
		}
	}
	for _, kv := range fs {
		switch kv.key {
		case "kind":
			k.Name = l.opsName(kv.valN, "kind")
		case "module":
			k.Module = l.opsName(kv.valN, "module")
		case "members":
			k.Members = l.opsMembers(kv.valN)
		default:
			l.errorf(kv.keyN, "unknown key %s (known: kind, members, module)", excerpt(kv.key))
		}
	}
	return k, len(l.errs) == before
}

// opsName reads a kind's, member's or module's name: a C identifier.
func (l *loader) opsName(n *yaml.Node, what string) string {
	s := l.str(n, what)
	if s == "" && n.Tag == "!!str" || s != "" && !structOpsNameRE.MatchString(s) {
		l.errorf(n, "%s %s: want a C identifier", what, excerpt(s))
	}
	return s
}

// opsMembers reads a kind's members, a mapping of name to {since, until}, in file order; the
// mapping refuses a member written twice.
func (l *loader) opsMembers(n *yaml.Node) []OpsMember {
	fs := l.mapping(n, "members")
	if fs == nil {
		return nil
	}
	if len(fs) == 0 {
		l.errorf(n, "members: a kind has at least one member")
	}
	out := make([]OpsMember, 0, len(fs))
	for _, kv := range fs {
		m := OpsMember{Name: kv.key}
		if !structOpsNameRE.MatchString(kv.key) {
			l.errorf(kv.keyN, "member %s: want a C identifier", excerpt(kv.key))
		}
		l.opsSpan(&m, kv.valN)
		out = append(out, m)
	}
	return out
}

// opsSpan reads a member's since (required) and until, each a release series.
func (l *loader) opsSpan(m *OpsMember, n *yaml.Node) {
	what := "member " + m.Name
	fs := l.mapping(n, what)
	if fs == nil {
		return
	}
	for _, kv := range fs {
		switch kv.key {
		case "since":
			m.Since = l.series(kv.valN, what+": since")
		case "until":
			m.Until = l.series(kv.valN, what+": until")
		default:
			l.errorf(kv.keyN, "%s: unknown key %s (known: since, until)", what, excerpt(kv.key))
		}
	}
	if _, ok := fs.get("since"); !ok {
		l.errorf(n, "%s: missing required key \"since\"", what)
	}
	if !m.Until.IsZero() && m.Until.Less(m.Since) {
		f, _ := fs.get("until")
		l.errorf(f.valN, "%s: until %s is older than since %s", what, m.Until, m.Since)
	}
}

// series reads a version that must be a release series ("6.12"): members come and go with
// releases, and a patch level would claim more than the kernels' BTF shows.
func (l *loader) series(n *yaml.Node, what string) Version {
	v := l.version(n, what)
	if v != v.Series() {
		l.errorf(n, "%s: %s: write a release series such as \"6.12\"", what, v)
		return Version{}
	}
	return v
}
