package proposal

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/registry/yamledit"
)

// EditKfuncs returns data, a kfunc file called file, with a proposal edited in: the entries
// that changed are written again, the added ones inserted in name order, and every other line
// (the file's comments, the entries that did not change or that no kernel has, with their
// categories, descriptions and notes) kept byte for byte, so a sync reads as a small diff and a
// file with nothing to change comes back unchanged. Comments inside an entry that changes are
// not kept: the entry is written as MarshalKfuncs writes it. The result is loaded again and must
// hold the proposal exactly.
func EditKfuncs(file string, data []byte, proposed []*registry.Kfunc, changes []Change) ([]byte, error) {
	rewrite := map[string]bool{}
	for _, c := range changes {
		if c.Kind == Changed || c.Kind == Added {
			rewrite[c.Name] = true
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data[:len(data):len(data)], '\n')
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var items []*yaml.Node
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.SequenceNode {
		items = doc.Content[0].Content
	}
	if len(items) == 0 || doc.Content[0].Style&yaml.FlowStyle != 0 {
		// An empty table ("[]") has no entry to keep: write it whole, keeping its head.
		return checkKfuncs(file, append(fileHead(data), entryText(proposed, 0)...), proposed)
	}
	lines := strings.SplitAfter(string(data), "\n")
	indent := items[0].Column - 3 // "- " before the first key
	byName := map[string]*registry.Kfunc{}
	for _, k := range proposed {
		byName[k.Name] = k
	}
	inFile := map[string]bool{}
	for _, item := range items {
		inFile[mappingValue(item, "name")] = true
	}
	var added []*registry.Kfunc // in name order, as proposed
	for _, k := range proposed {
		if !inFile[k.Name] {
			added = append(added, k)
		}
	}
	var out []string
	pos := 0 // lines before pos are placed
	for i, item := range items {
		name := mappingValue(item, "name")
		start, end := item.Line-1, len(lines)
		if i+1 < len(items) {
			end = items[i+1].Line - 1
		}
		end = trimBack(lines, start, end)
		// A new entry goes before the first one whose name sorts after it, and before that
		// one's comments.
		for len(added) > 0 && added[0].Name < name {
			out = append(out, entryText(added[:1], indent))
			added = added[1:]
		}
		out = append(out, lines[pos:start]...)
		if k := byName[name]; k != nil && rewrite[name] {
			out = append(out, entryText([]*registry.Kfunc{k}, indent))
		} else {
			out = append(out, lines[start:end]...)
		}
		pos = end
	}
	if len(added) > 0 {
		out = append(out, entryText(added, indent))
	}
	out = append(out, lines[pos:]...)
	return checkKfuncs(file, []byte(strings.Join(out, "")), proposed)
}

// entryText is entries as MarshalKfuncs writes them, without its head, shifted right by indent.
func entryText(ks []*registry.Kfunc, indent int) string {
	text := strings.TrimPrefix(string(yamledit.MarshalKfuncs(ks)), string(fileHead(yamledit.MarshalKfuncs(nil))))
	if indent <= 0 {
		return text
	}
	pad := strings.Repeat(" ", indent)
	return pad + strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\n"+pad) + "\n"
}

// fileHead is a file's leading comment and blank lines.
func fileHead(data []byte) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	n := 0
	for _, l := range lines {
		if s := strings.TrimSpace(l); s != "" && !strings.HasPrefix(s, "#") {
			break
		}
		n += len(l)
	}
	return data[:n]
}

// trimBack moves end back over blank and comment-only lines, not past start: comments before
// an entry belong to it.
func trimBack(lines []string, start, end int) int {
	for end > start+1 {
		if s := strings.TrimSpace(lines[end-1]); s != "" && !strings.HasPrefix(s, "#") {
			break
		}
		end--
	}
	return end
}

func mappingValue(m *yaml.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1].Value
		}
	}
	return ""
}

// checkKfuncs loads the edited file and compares every entry with the proposal.
func checkKfuncs(file string, out []byte, proposed []*registry.Kfunc) ([]byte, error) {
	after, err := registry.ParseKfuncs(file, out)
	if err != nil {
		return nil, fmt.Errorf("the edited file does not load: %w", err)
	}
	got := after.All()
	sort.Slice(got, func(i, j int) bool { return got[i].Name < got[j].Name })
	if len(got) != len(proposed) {
		return nil, fmt.Errorf("%s: the edited file has %d entries, not %d", file, len(got), len(proposed))
	}
	for i, k := range got {
		if facts(k) != facts(proposed[i]) {
			return nil, fmt.Errorf("%s: entry %s reads back as %s, not as proposed (%s)", file, k.Name, facts(k), facts(proposed[i]))
		}
	}
	return out, nil
}

// facts renders what a sync decides of an entry, for comparison.
func facts(k *registry.Kfunc) string {
	return strings.Join([]string{k.Name, k.Prototype, k.MinKernel.String(), k.LastKernel.String(), gapsText(k.Gaps),
		k.ProgTypes.String(), keyedText(k.ProgTypeSince, ", "), keyedText(k.ProgTypeUntil, ", "), typeGapsText(k.ProgTypeGaps), keyedText(k.AttachPoints, "; "),
		conditionsText(k.Conditions), strings.Join(k.Flags, ", "), k.Module, k.Category, k.Description, k.Notes}, " | ")
}
