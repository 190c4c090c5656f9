package registry

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The one parse skeleton of helpers.yaml and kfuncs.yaml: a YAML sequence of mappings, each
// with required and optional keys, unique by some of its facts. The keys of Availability are
// read and cross-checked here, for both kinds of entry alike; an entryKind adds the keys and
// checks of its own.

// entryKind is what the skeleton needs to know about one kind of registry entry.
type entryKind[T tableEntry] struct {
	what               string // "helper" or "kfunc", for messages
	required, optional []string
	// emptyProgTypes allows `prog_types: []`: a kfunc may be callable from no program type the
	// probe loads (a struct_ops member, a test function), which an empty list says. A helper
	// is always offered to some type.
	emptyProgTypes bool
	// emptyTable allows a file without entries: kfuncs sync writes one for kernels without
	// kfuncs, while a helper table without helpers is a wrong file.
	emptyTable bool
	// newEntry returns a new entry starting on line.
	newEntry func(line int) T
	// field reads one key that is neither an availability key nor a remark; it returns false
	// for a key it does not know.
	field func(l *loader, e T, kv field) bool
	// check cross-checks the facts of the entry's own keys.
	check func(l *loader, e T, fs fields)
	// unique returns the facts that no two entries may share.
	unique func(e T) []uniqueFact
}

// uniqueFact is a fact no two entries may share: key tells it apart, shown names it in messages
// ("id 5", `name "map_lookup_elem"`).
type uniqueFact struct{ key, shown string }

// parseEntries reads data, the contents of a registry file called file, as a sequence of entries
// of kind. Every problem found is reported (up to a bound), each as "file:line: message".
func parseEntries[T tableEntry](file string, data []byte, kind *entryKind[T]) ([]T, error) {
	out, root, err := readSequence(file, data, kind.what+" entries", kind.entry, kind.unique)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 && !kind.emptyTable {
		return nil, &LineError{File: file, Line: root.Line, Msg: fmt.Sprintf("no %s entries", kind.what)}
	}
	return out, nil
}

// readSequence reads data, the contents of a registry file called file, as a YAML sequence of
// what ("helper entries", "struct_ops kinds"): each item read by read, none sharing a fact
// unique returns with an earlier one. Every problem found is reported (up to a bound), each as
// "file:line: message". root is the sequence.
func readSequence[T any](file string, data []byte, what string, read func(*loader, *yaml.Node) (T, bool), unique func(T) []uniqueFact) (out []T, root *yaml.Node, err error) {
	// The YAML parser is third-party code fed arbitrary bytes; a panic in it must become an
	// error naming the file, not a crash of a CI job.
	defer func() {
		if p := recover(); p != nil {
			out, root, err = nil, nil, &LineError{File: file, Msg: fmt.Sprintf("cannot parse YAML: %v", p)}
		}
	}()
	if root, err = document(file, data); err != nil {
		return nil, nil, err
	}
	l := &loader{file: file}
	if root.Kind != yaml.SequenceNode {
		l.errorf(root, "want a YAML sequence of %s, found %s", what, kindName(root))
		return nil, nil, errors.Join(l.errs...)
	}
	first := map[string]int{} // a unique fact -> the line of the item that has it
	for _, item := range root.Content {
		v, ok := read(l, item)
		if !ok || !l.unique(item, first, unique(v)) {
			continue
		}
		out = append(out, v)
	}
	if len(l.errs) > 0 {
		return nil, nil, errors.Join(l.errs...)
	}
	return out, root, nil
}

// unique reports whether none of facts belongs to an earlier entry, and records them when so.
func (l *loader) unique(item *yaml.Node, first map[string]int, facts []uniqueFact) bool {
	for _, f := range facts {
		if line, dup := first[f.key]; dup {
			l.errorf(item, "duplicate %s (first at line %d)", f.shown, line)
			return false
		}
	}
	for _, f := range facts {
		first[f.key] = item.Line
	}
	return true
}

// entry reads one entry: its keys, then the checks that involve several of them. It returns
// false, with the problems recorded, when anything is wrong.
func (k *entryKind[T]) entry(l *loader, n *yaml.Node) (T, bool) {
	var zero T
	fs := l.mapping(n, k.what+" entry")
	if fs == nil {
		return zero, false
	}
	before := len(l.errs)
	e := k.newEntry(n.Line)
	a, rm := e.parts()
	for _, f := range k.required {
		if _, ok := fs.get(f); !ok {
			l.errorf(n, "entry is missing required key %q", f)
		}
	}
	for _, kv := range fs {
		known := slices.Contains(k.required, kv.key) || slices.Contains(k.optional, kv.key)
		if !known || !l.availabilityField(a, kv, k.emptyProgTypes) && !l.remarksField(rm, kv) && !k.field(l, e, kv) {
			l.errorf(kv.keyN, "unknown key %s (known: %s, %s)", excerpt(kv.key),
				strings.Join(k.required, ", "), strings.Join(k.optional, ", "))
		}
	}
	if len(l.errs) > before {
		return zero, false
	}
	l.checkAvailability(a, fs)
	k.check(l, e, fs)
	if len(l.errs) > before {
		return zero, false
	}
	return e, true
}

// availabilityField reads kv into a when it is a key of Availability (min_kernel, last_kernel,
// gaps, prog_types, prog_type_since, prog_type_until, prog_type_gaps, attach_points), and reports whether it
// was. The kind of entry has already refused the keys it does not list (a helper has no
// last_kernel or gaps).
func (l *loader) availabilityField(a *Availability, kv field, emptyProgTypes bool) bool {
	key, v := kv.key, kv.valN
	switch key {
	case "min_kernel":
		a.MinKernel = l.version(v, key)
	case "last_kernel":
		a.LastKernel = l.version(v, key)
	case "gaps":
		a.Gaps = l.gapList(v, key)
	case "prog_types":
		if emptyProgTypes && v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
			a.ProgTypes = ProgTypes{}
		} else {
			a.ProgTypes = l.progTypes(v)
		}
	case "prog_type_since", "prog_type_until":
		*perTypeReleases(a, key) = l.versionMap(v, key)
	case "prog_type_gaps":
		a.ProgTypeGaps = l.gapMap(v, key)
	case "attach_points":
		a.AttachPoints = l.attachPoints(v)
	default:
		return false
	}
	return true
}

// perTypeReleases returns the map of a that key, prog_type_since or prog_type_until, fills in:
// reading and checking the two keys is the same but for the map.
func perTypeReleases(a *Availability, key string) *map[string]Version {
	if key == "prog_type_until" {
		return &a.ProgTypeUntil
	}
	return &a.ProgTypeSince
}

// remarksField reads kv into rm when it is sources or notes, and reports whether it was.
func (l *loader) remarksField(rm *Remarks, kv field) bool {
	switch kv.key {
	case "sources":
		rm.Sources = l.strMap(kv.valN, kv.key)
	case "notes":
		rm.Notes = strings.TrimSpace(l.str(kv.valN, kv.key))
	default:
		return false
	}
	return true
}

// checkAvailability validates the facts of a that involve more than one key: every per-type
// fact names a listed type and lies within the function's releases, and no type's last release
// comes before its first.
func (l *loader) checkAvailability(a *Availability, fs fields) {
	if !a.LastKernel.IsZero() && a.LastKernel.Series().Less(a.MinKernel.Series()) {
		f, _ := fs.get("last_kernel")
		l.errorf(f.valN, "last_kernel %s is older than min_kernel %s", a.LastKernel, a.MinKernel)
	}
	for _, key := range []string{"prog_type_since", "prog_type_until"} {
		m := *perTypeReleases(a, key)
		f, _ := fs.get(key)
		for _, t := range slices.Sorted(maps.Keys(m)) {
			if !a.ProgTypes.Contains(t) {
				l.errorf(f.valN, "%s names %s, which prog_types does not list", key, t)
			}
			if v := m[t]; v.Less(a.MinKernel) {
				l.errorf(f.valN, "%s: %s %s is older than min_kernel %s", key, t, v, a.MinKernel)
			}
		}
	}
	if f, ok := fs.get("prog_type_gaps"); ok {
		for _, t := range slices.Sorted(maps.Keys(a.ProgTypeGaps)) {
			if !a.ProgTypes.Contains(t) {
				l.errorf(f.valN, "prog_type_gaps names %s, which prog_types does not list", t)
			}
		}
	}
	for _, t := range slices.Sorted(maps.Keys(a.ProgTypeUntil)) {
		until := a.ProgTypeUntil[t]
		if since, ok := a.ProgTypeSince[t]; ok && until.Less(since.Series()) {
			f, _ := fs.get("prog_type_until")
			l.errorf(f.valN, "prog_type_until: %s %s is older than its prog_type_since %s", t, until, since)
		}
	}
	l.checkAttachPoints(a, fs)
}
