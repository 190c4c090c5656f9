// Package yamledit writes the registry's YAML files: it edits helpers.yaml in place, keeping
// comments, key order and quoting (UpdateHelpers, for helpers sync --write), and writes
// kfuncs.yaml (MarshalKfuncs, for kfuncs sync --write). The files it writes load with package
// registry's loaders, which it calls to check its own output.
package yamledit

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// entryKeyOrder is the order of an entry's keys in helpers.yaml: a key that is added goes after
// the last key before it in this order that the entry has.
var entryKeyOrder = []string{"id", "name", "signature", "min_kernel", "prog_types", "prog_type_since",
	"prog_type_until", "prog_type_gaps", "attach_points", "gpl_only", "category", "description", "attach_types",
	"sleepable_only", "kernel_config", "sources", "notes"}

// UpdateHelpers returns data, a helper file in our YAML format called file, with the entries of
// updated (matched by id) rewritten where their release facts (min_kernel, prog_types,
// prog_type_since, prog_type_until, prog_type_gaps, attach_points) or their sources differ from
// the file's.
// The file is edited line by line, not re-encoded: comments, key order, quoting and every line
// of a key that does not change are kept byte for byte, so a sync reads as a small diff and a
// file with nothing to change comes back unchanged. The result is loaded again and must hold
// the updated facts, and the file's others, exactly.
func UpdateHelpers(file string, data []byte, updated []*registry.Helper) ([]byte, error) {
	reg, err := registry.Parse(file, data)
	if err != nil {
		return nil, err
	}
	// Parse has checked that data is one YAML document holding a sequence of entries.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	root := doc.Content[0]
	atLine := map[int]*registry.Helper{}
	for _, h := range reg.Helpers() {
		atLine[h.Line()] = h
	}
	ed := &fileEditor{lines: splitLines(data)}
	want := map[int]*registry.Helper{}
	for _, u := range updated {
		want[u.ID] = u
	}
	for i, item := range root.Content {
		cur := atLine[item.Line]
		if cur == nil {
			continue
		}
		u, ok := want[cur.ID]
		if !ok {
			continue
		}
		delete(want, cur.ID)
		end := len(ed.lines)
		if i+1 < len(root.Content) {
			end = root.Content[i+1].Line - 1
		}
		ed.entry(item, ed.trimBack(end, item.Line), cur, u)
	}
	for id := range want {
		return nil, fmt.Errorf("%s: no entry with id %d to update", file, id)
	}
	out := ed.apply()
	if err := checkUpdate(file, reg, out, updated); err != nil {
		return nil, err
	}
	return out, nil
}

// checkUpdate loads the edited file and compares it with what was asked for.
func checkUpdate(file string, before *registry.Registry, out []byte, updated []*registry.Helper) error {
	after, err := registry.Parse(file, out)
	if err != nil {
		return fmt.Errorf("the edited file does not load: %w", err)
	}
	want := map[int]*registry.Helper{}
	for _, h := range before.Helpers() {
		want[h.ID] = h
	}
	for _, u := range updated {
		want[u.ID] = u
	}
	if after.Len() != before.Len() {
		return fmt.Errorf("%s: the edited file has %d entries, not %d", file, after.Len(), before.Len())
	}
	for _, h := range after.Helpers() {
		if w := want[h.ID]; w == nil || releaseFacts(h) != releaseFacts(w) {
			return fmt.Errorf("%s: entry %d reads back as %s, not as asked", file, h.ID, releaseFacts(h))
		}
	}
	return nil
}

// releaseFacts renders what UpdateHelpers may change in an entry, for comparison.
func releaseFacts(h *registry.Helper) string {
	var b strings.Builder
	fmt.Fprintf(&b, "min_kernel %s; prog_types %s", h.MinKernel, h.ProgTypes)
	for _, t := range sortedKeys(h.ProgTypeSince) {
		fmt.Fprintf(&b, "; since %s %s", t, h.ProgTypeSince[t])
	}
	for _, t := range sortedKeys(h.ProgTypeUntil) {
		fmt.Fprintf(&b, "; until %s %s", t, h.ProgTypeUntil[t])
	}
	for _, t := range sortedKeys(h.ProgTypeGaps) {
		fmt.Fprintf(&b, "; gaps %s [%s]", t, gapList(h.ProgTypeGaps[t]))
	}
	for _, k := range sortedKeys(h.AttachPoints) {
		fmt.Fprintf(&b, "; attach point %s %s", k, pointText(h.AttachPoints[k]))
	}
	for _, k := range sortedKeys(h.Sources) {
		fmt.Fprintf(&b, "; source %s %q", k, h.Sources[k])
	}
	return b.String()
}

// lineEdit replaces lines from..to (1-based, inclusive) with text; to == from-1 inserts text
// before line from.
type lineEdit struct {
	from, to int
	text     []string
}

// fileEditor collects the line edits of a file, all located in the original lines.
type fileEditor struct {
	lines []string // each with its line ending
	edits []lineEdit
}

func splitLines(data []byte) []string {
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// trimBack moves end back over blank and comment-only lines, not past start: what follows a
// key's value up to the next key belongs to the next key (its head comment) or to nobody.
func (ed *fileEditor) trimBack(end, start int) int {
	for end > start {
		s := strings.TrimSpace(ed.lines[end-1])
		if s != "" && !strings.HasPrefix(s, "#") {
			break
		}
		end--
	}
	return end
}

// apply returns the file with every edit made. Edits are applied from the end of the file, so
// that the line numbers of the ones still to come hold; at the same line a replacement goes
// first and the insertion then lands before it.
func (ed *fileEditor) apply() []byte {
	edits := ed.edits
	for i := 1; i < len(edits); i++ {
		for j := i; j > 0 && later(edits[j], edits[j-1]); j-- {
			edits[j], edits[j-1] = edits[j-1], edits[j]
		}
	}
	lines := ed.lines
	for _, e := range edits {
		rest := append([]string(nil), lines[e.to:]...)
		lines = append(append(lines[:e.from-1:e.from-1], e.text...), rest...)
	}
	return []byte(strings.Join(lines, ""))
}

// later reports whether edit a must be applied before b.
func later(a, b lineEdit) bool {
	if a.from != b.from {
		return a.from > b.from
	}
	return a.to >= a.from && b.to < b.from
}

// keySpan is one key of an entry and the lines its value takes.
type keySpan struct {
	name       string
	keyN, valN *yaml.Node
	start, end int
}

// spans returns the keys of a block mapping with their lines; the last one ends at end.
func (ed *fileEditor) spans(m *yaml.Node, end int) []keySpan {
	var out []keySpan
	for i := 0; i+1 < len(m.Content); i += 2 {
		out = append(out, keySpan{name: m.Content[i].Value, keyN: m.Content[i], valN: m.Content[i+1], start: m.Content[i].Line})
	}
	for i := range out {
		next := end + 1
		if i+1 < len(out) {
			next = out[i+1].start
		}
		out[i].end = ed.trimBack(next-1, out[i].start)
	}
	return out
}

// entry adds the edits that turn entry cur, whose mapping n ends at line end, into u.
func (ed *fileEditor) entry(n *yaml.Node, end int, cur, u *registry.Helper) {
	keys := ed.spans(n, end)
	indent := strings.Repeat(" ", n.Column-1)
	find := func(name string) *keySpan {
		for i := range keys {
			if keys[i].name == name {
				return &keys[i]
			}
		}
		return nil
	}
	inserts := map[int]int{} // line -> index in ed.edits of the insertion there
	insert := func(name string, text []string) {
		at := n.Line
		for _, k := range entryKeyOrder {
			if k == name {
				break
			}
			if s := find(k); s != nil {
				at = s.end
			}
		}
		if i, ok := inserts[at+1]; ok {
			ed.edits[i].text = append(ed.edits[i].text, text...)
			return
		}
		inserts[at+1] = len(ed.edits)
		ed.edits = append(ed.edits, lineEdit{from: at + 1, to: at, text: text})
	}
	if cur.MinKernel.String() != u.MinKernel.String() {
		s := find("min_kernel")
		ed.replace(s, indent+"min_kernel: "+strconv.Quote(u.MinKernel.String())+comment(s))
	}
	if cur.ProgTypes.String() != u.ProgTypes.String() {
		ed.progTypes(find("prog_types"), indent, u.ProgTypes)
	}
	maps := []struct {
		key      string
		old, new map[string]string
	}{
		{"prog_type_since", versionTexts(cur.ProgTypeSince), versionTexts(u.ProgTypeSince)},
		{"prog_type_until", versionTexts(cur.ProgTypeUntil), versionTexts(u.ProgTypeUntil)},
		{"prog_type_gaps", gapTexts(cur.ProgTypeGaps), gapTexts(u.ProgTypeGaps)},
		{"attach_points", pointTexts(cur.AttachPoints), pointTexts(u.AttachPoints)},
		{"sources", quotedTexts(cur.Sources), quotedTexts(u.Sources)},
	}
	for _, m := range maps {
		if sameTexts(m.old, m.new) {
			continue
		}
		s := find(m.key)
		switch {
		case s == nil:
			lines := []string{indent + m.key + ":\n"}
			for _, k := range childOrder(m.key, nil, m.new) {
				lines = append(lines, indent+"  "+k+": "+m.new[k]+"\n")
			}
			insert(m.key, lines)
		case len(m.new) == 0:
			ed.edits = append(ed.edits, lineEdit{from: s.start, to: s.end})
		default:
			ed.mapping(s, indent, m.old, m.new)
		}
	}
}

// replace puts one line in place of the lines of key s.
func (ed *fileEditor) replace(s *keySpan, line string) {
	ed.edits = append(ed.edits, lineEdit{from: s.start, to: s.end, text: []string{line + "\n"}})
}

// comment returns the trailing comment of a one-line key, with its separating space.
func comment(s *keySpan) string {
	for _, n := range []*yaml.Node{s.valN, s.keyN} {
		if n.LineComment != "" {
			return " " + n.LineComment
		}
	}
	return ""
}

// progTypes rewrites prog_types in the style it is written in: a block list stays a block list,
// anything else becomes `all` or a flow list on one line.
func (ed *fileEditor) progTypes(s *keySpan, indent string, pt registry.ProgTypes) {
	if s.valN.Kind == yaml.SequenceNode && s.valN.Style&yaml.FlowStyle == 0 && len(s.valN.Content) > 0 && !pt.All {
		item := strings.Repeat(" ", s.valN.Content[0].Column-3)
		text := []string{ed.lines[s.start-1]}
		for _, t := range pt.Types {
			text = append(text, item+"- "+t+"\n")
		}
		ed.edits = append(ed.edits, lineEdit{from: s.start, to: s.end, text: text})
		return
	}
	value := "all"
	if !pt.All {
		value = "[" + strings.Join(pt.Types, ", ") + "]"
	}
	ed.replace(s, indent+"prog_types: "+value+comment(s))
}

// mapping rewrites the mapping under key s from old to new. In a block mapping, each child that
// keeps its value keeps its lines (and the comments above them); a flow mapping is written
// again on one line.
func (ed *fileEditor) mapping(s *keySpan, indent string, old, new map[string]string) {
	if s.valN.Kind != yaml.MappingNode || s.valN.Style&yaml.FlowStyle != 0 || s.valN.Line == s.start {
		var parts []string
		for _, k := range childOrder(s.name, mappingKeys(s.valN), new) {
			parts = append(parts, k+": "+new[k])
		}
		ed.replace(s, indent+s.name+": {"+strings.Join(parts, ", ")+"}"+comment(s))
		return
	}
	children := ed.spans(s.valN, s.end)
	childIndent := strings.Repeat(" ", children[0].keyN.Column-1)
	kept := map[string][]string{}
	for i, c := range children {
		from := s.start + 1
		if i > 0 {
			from = children[i-1].end + 1
		}
		lines := ed.lines[from-1 : c.end]
		if v, ok := new[c.name]; ok && v != old[c.name] {
			// The comments above the child stay; its own lines are written again.
			head := ed.lines[from-1 : c.start-1]
			lines = append(append([]string(nil), head...), childIndent+c.name+": "+v+comment(&c)+"\n")
		}
		kept[c.name] = lines
	}
	text := []string{}
	for _, k := range childOrder(s.name, mappingKeys(s.valN), new) {
		if lines, ok := kept[k]; ok {
			text = append(text, lines...)
		} else {
			text = append(text, childIndent+k+": "+new[k]+"\n")
		}
	}
	ed.edits = append(ed.edits, lineEdit{from: s.start + 1, to: s.end, text: text})
}

func mappingKeys(n *yaml.Node) []string {
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}

// childOrder returns the keys of new in the order they are written: those already in the file
// where they are, and new ones where they belong. Program types go in kernel enum order,
// before the first written one that comes later; a matrix source goes first, as in the file's
// other entries; other keys go last.
func childOrder(key string, existing []string, new map[string]string) []string {
	var order []string
	for _, k := range existing {
		if _, ok := new[k]; ok {
			order = append(order, k)
		}
	}
	for _, k := range sortedKeys(new) {
		if slices.Contains(order, k) {
			continue
		}
		at := len(order)
		if id, ok := registry.ProgTypeID(k); ok && key != "sources" {
			for i, e := range order {
				if eid, ok := registry.ProgTypeID(e); ok && eid > id {
					at = i
					break
				}
			}
		} else if k == "matrix" {
			at = 0
		}
		order = append(order[:at], append([]string{k}, order[at:]...)...)
	}
	return order
}

func versionTexts(m map[string]registry.Version) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = strconv.Quote(v.String())
	}
	return out
}

func gapTexts(m map[string][]registry.Gap) map[string]string {
	out := map[string]string{}
	for k, gs := range m {
		if len(gs) > 0 {
			out[k] = "[" + gapList(gs) + "]"
		}
	}
	return out
}

func pointTexts(m map[string]registry.AttachPoint) map[string]string {
	out := map[string]string{}
	for k, p := range m {
		out[k] = pointText(p)
	}
	return out
}

func quotedTexts(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = quote(v)
	}
	return out
}

func sameTexts(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
