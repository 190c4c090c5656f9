package registry

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// Attach points and conditions are both keyed records of the same shape: under a key (an attach
// point, a program type) a mapping of since, until and gaps (a Span, read as a program type's
// facts are), evidence (required, never empty) and one key of their own (offered, holds). The
// reader of that shape is written once here; each record adds its own key and checks.

// readKeyed reads the mapping what (attach_points, conditions): each key accepted by keyOK (which
// reports why it refuses one), its value read by read. An empty mapping is refused: the key is
// left out instead.
func readKeyed[V any](l *loader, n *yaml.Node, what string, keyOK func(kv field) bool, read func(n *yaml.Node, what string) (V, bool)) map[string]V {
	if n.Kind == yaml.MappingNode && len(n.Content) == 0 {
		l.errorf(n, "%s: empty mapping: leave the key out", what)
		return nil
	}
	return readMap(l, n, what, func(kv field) (V, bool) {
		var zero V
		if !keyOK(kv) {
			return zero, false
		}
		return read(kv.valN, what+"."+kv.key)
	})
}

// spanRecord is the shape of one keyed record (see the top of the file).
type spanRecord struct {
	what string // the record's place in the file, for messages: "conditions.tracepoint"
	// keys lists every key the record takes, for the unknown-key message; shows says what
	// its evidence tells, for the missing-evidence message.
	keys, shows string
	// own reads the record's own key, reporting false for a key it does not know.
	own func(kv field) bool
}

// read reads the record at n: its span and evidence, its own key through r.own. fs is nil when n
// is no mapping (and reported).
func (r spanRecord) read(l *loader, n *yaml.Node) (span Span, evidence string, fs fields) {
	if fs = l.mapping(n, r.what); fs == nil {
		return span, "", nil
	}
	for _, kv := range fs {
		switch kv.key {
		case "since":
			span.Since = l.version(kv.valN, r.what+".since")
		case "until":
			span.Until = l.version(kv.valN, r.what+".until")
		case "gaps":
			span.Gaps = l.gapList(kv.valN, r.what+".gaps")
		case "evidence":
			if evidence = strings.TrimSpace(l.str(kv.valN, r.what+".evidence")); evidence == "" {
				l.errorf(kv.valN, "%s.evidence is empty", r.what)
			}
		default:
			if !r.own(kv) {
				l.errorf(kv.keyN, "%s: unknown key %s (known: %s)", r.what, excerpt(kv.key), r.keys)
			}
		}
	}
	if _, ok := fs.get("evidence"); !ok {
		l.errorf(n, "%s needs evidence: %s", r.what, r.shows)
	}
	if !span.Since.IsZero() && !span.Until.IsZero() && span.Until.Less(span.Since.Series()) {
		l.errorf(n, "%s: until %s is older than since %s", r.what, span.Until, span.Since)
	}
	return span, evidence, fs
}

// eachKeyed yields the key nodes of the mapping under key in fs and the record read for each,
// skipping keys whose record was unusable: what a cross-check of the records against the
// entry's other facts walks, in file order, with the line of each key.
func eachKeyed[V any](fs fields, key string, records map[string]V, yield func(keyN *yaml.Node, v V)) {
	f, ok := fs.get(key)
	if !ok || f.valN.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(f.valN.Content); i += 2 {
		keyN := f.valN.Content[i]
		if v, ok := records[keyN.Value]; ok {
			yield(keyN, v)
		}
	}
}
