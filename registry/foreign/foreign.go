// Package foreign reads and writes helper tables in other people's formats. Besides our YAML,
// LoadTable reads the table of a Clojure library in its own EDN notation and a JSON array with
// our field names, and checks them as strictly as our own file where the checks make sense;
// Export writes the table as YAML, JSON, EDN or a C header.
//
// The registry's model (package foreign) knows nothing of formats: how each entry of a foreign
// table was written, and which facts its author actually stated, is kept here, in a Provenance
// returned beside the table, so that a verdict judges the author's claims and not the defaults
// that filled the gaps.
package foreign

import (
	"bytes"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// Bounds of what a foreign table may cost its reader. The embedded table of 211 helpers is some
// 14,000 values (scalars and collections, map keys included) in EDN or JSON and nests five levels
// deep (table, entry, signature, arguments, argument). Without a bound on the number of values,
// 16 MiB of "[]" made 8 million nodes, 2.2 GB; with it, the nodes of any file stay a few tens of
// megabytes, a small multiple of the largest file read (files.Registry).
const (
	maxDepth  = 64
	maxValues = 100_000
)

// Format names a helper table format.
type Format string

// The formats LoadTable reads and Export writes. FormatC is written only.
const (
	FormatYAML Format = "yaml"
	FormatEDN  Format = "edn"
	FormatJSON Format = "json"
	FormatC    Format = "c"
)

// Claims is the set of registry keys (as our YAML spells them: min_kernel, prog_types, gpl_only,
// ...) that the author of an entry wrote.
type Claims map[string]bool

// Keys returns the claimed keys, sorted.
func (c Claims) Keys() []string { return sortedKeys(c) }

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// Entry is how the author of a foreign table wrote one entry.
type Entry struct {
	// Written names the entry as it reads in the author's file: the keyword and place of an
	// EDN entry (":ktime-get-real-ns (guide.edn:12)"), the index, name and place of a JSON one
	// (`entry 3 "map_lookup_elem" (table.json:40)`).
	Written string
	// Claims holds the registry keys the author wrote for the entry. Facts of keys it lacks are
	// neutral defaults (gpl_only false, no sources) that claim nothing.
	Claims Claims
}

// Provenance records how the entries of a helper table were written, by helper id. A nil
// Provenance, or one of a table in our own YAML format, stands for a table whose every entry
// states every fact: every key is claimed.
type Provenance struct {
	// Format is the format of the table (FormatYAML, FormatEDN or FormatJSON).
	Format  Format
	entries map[int]Entry
}

// Foreign reports whether the table is in someone else's format (EDN or JSON).
func (p *Provenance) Foreign() bool {
	return p != nil && (p.Format == FormatEDN || p.Format == FormatJSON)
}

// Entry returns how the entry of h was written, and false for an entry of our own format.
func (p *Provenance) Entry(h *registry.Helper) (Entry, bool) {
	if p == nil {
		return Entry{}, false
	}
	e, ok := p.entries[h.ID]
	return e, ok
}

// Claimed reports whether the author of h's entry stated the fact of the registry key key (for
// instance "gpl_only"). Every key counts as claimed for entries of our own YAML format; for a
// foreign table only the keys the entry has do, and a verdict should not judge the others.
func (p *Provenance) Claimed(h *registry.Helper, key string) bool {
	e, ok := p.Entry(h)
	return !ok || e.Claims[key]
}

// Unclaimed returns, sorted, the required registry keys the author of h's entry did not write,
// whose facts are the loader's neutral defaults (nil for our own YAML format).
func (p *Provenance) Unclaimed(h *registry.Helper) []string {
	e, ok := p.Entry(h)
	if !ok {
		return nil
	}
	required, _ := registry.HelperKeys()
	var out []string
	for _, k := range required {
		if !e.Claims[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// WrittenAs names h's entry as its author wrote it: Entry.Written for a foreign table, otherwise
// the name and, when known, the line ("map_lookup_elem (line 3)").
func (p *Provenance) WrittenAs(h *registry.Helper) string {
	if e, ok := p.Entry(h); ok && e.Written != "" {
		return e.Written
	}
	if h.Line() > 0 {
		return fmt.Sprintf("%s (line %d)", h.Name, h.Line())
	}
	return h.Name
}

// DetectFormat tells the format of a helper table from its file name and, when the name does not
// say, from its first bytes: .edn, .clj and .cljc are EDN, .json is JSON, .yaml and .yml are
// YAML; a file that starts with a map, a list, a set or a ; comment is EDN, one that starts with
// an array of objects is JSON, anything else YAML.
func DetectFormat(file string, data []byte) Format {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".edn", ".clj", ".cljc":
		return FormatEDN
	case ".json":
		return FormatJSON
	case ".yaml", ".yml":
		return FormatYAML
	}
	return sniffFormat(data)
}

// sniffFormat guesses a table's format from its first significant bytes.
func sniffFormat(data []byte) Format {
	rest := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	switch {
	case len(rest) == 0:
		return FormatYAML
	case rest[0] == ';': // a comment in EDN; YAML and JSON have no such thing
		return FormatEDN
	case rest[0] == '{' || rest[0] == '(' || bytes.HasPrefix(rest, []byte("#{")) || bytes.HasPrefix(rest, []byte("#_")):
		return FormatEDN
	case rest[0] == '[':
		inner := bytes.TrimLeft(rest[1:], " \t\r\n")
		if bytes.HasPrefix(inner, []byte("]")) {
			return FormatJSON
		}
		if bytes.HasPrefix(inner, []byte("{")) && bytes.HasPrefix(bytes.TrimLeft(inner[1:], " \t\r\n"), []byte(`"`)) {
			return FormatJSON
		}
	}
	return FormatYAML
}

// LoadTable reads and validates a helper table in any format the tool reads (see DetectFormat),
// with the same limits as registry.Load: a regular file of at most 16 MiB (files.Registry).
func LoadTable(path string) (*registry.Registry, *Provenance, error) {
	data, err := registry.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return ParseTable(path, data, DetectFormat(path, data))
}

// ParseTable validates data, the contents of the helper table file in format, and builds a
// Registry and the Provenance of its entries.
func ParseTable(file string, data []byte, format Format) (*registry.Registry, *Provenance, error) {
	switch format {
	case FormatYAML:
		reg, err := registry.Parse(file, data)
		if err != nil {
			return nil, nil, err
		}
		return reg, &Provenance{Format: FormatYAML}, nil
	case FormatEDN:
		return parseEDNTable(file, data)
	case FormatJSON:
		return parseJSONTable(file, data)
	}
	return nil, nil, &registry.LineError{File: file, Msg: fmt.Sprintf("unknown table format %q (want yaml, edn or json)", format)}
}

// foreignEntry is one entry of a foreign table, converted to the YAML node shape our loader
// checks: a mapping with our keys. label names the entry in messages; written adds its place.
type foreignEntry struct {
	node           *yaml.Node
	label, written string
}

// foreignTable checks the entries of a foreign table and builds the registry and its
// provenance. Ids and names must be unique; a duplicate is reported naming both entries.
func foreignTable(c *registry.EntryChecker, data []byte, entries []foreignEntry, format Format, at int) (*registry.Registry, *Provenance, error) {
	file := c.File()
	var helpers []*registry.Helper
	prov := &Provenance{Format: format, entries: map[int]Entry{}}
	ids := map[int]string{}
	names := map[string]string{}
	for _, e := range entries {
		h, claims := foreignHelper(c, e)
		if h == nil {
			continue
		}
		if prev, dup := ids[h.ID]; dup {
			c.Errorf(e.node, "%s: duplicate id %d: %s has it too", e.label, h.ID, prev)
			continue
		}
		if prev, dup := names[h.Name]; dup {
			c.Errorf(e.node, "%s: duplicate name %s: %s has it too", e.label, h.Name, prev)
			continue
		}
		ids[h.ID], names[h.Name] = e.written, e.written
		prov.entries[h.ID] = Entry{Written: e.written, Claims: claims}
		helpers = append(helpers, h)
	}
	if err := c.Err(); err != nil {
		return nil, nil, err
	}
	if len(helpers) == 0 {
		return nil, nil, &registry.LineError{File: file, Line: at, Msg: "no helper entries"}
	}
	return registry.NewRegistry(file, data, helpers), prov, nil
}

// foreignHelper checks one entry of a foreign table with the rules of our own loader and returns
// it with the keys its author wrote. The differences: gpl_only may be left out (it is then false
// and not claimed), arguments may have no name or be keywords, and a version must be a string
// whatever the format's number syntax. Every message starts with the entry's label.
func foreignHelper(c *registry.EntryChecker, e foreignEntry) (*registry.Helper, Claims) {
	start := len(c.Problems())
	n := e.node
	claims := Claims{}
	content := make([]*yaml.Node, 0, len(n.Content)+2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		claims[k.Value] = true
		switch k.Value {
		case "min_kernel":
			foreignVersion(c, v, k.Value)
		case "prog_type_since", "prog_type_until":
			if v.Kind == yaml.MappingNode {
				for j := 1; j < len(v.Content); j += 2 {
					foreignVersion(c, v.Content[j], k.Value+"."+v.Content[j-1].Value)
				}
			}
		}
		content = append(content, k, v)
	}
	if !claims["gpl_only"] {
		content = append(content, strNode("gpl_only", n.Line), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false", Line: n.Line})
	}
	h := c.Helper(&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column, Content: content})
	if problems := c.Problems()[start:]; h == nil || len(problems) > 0 {
		for _, le := range problems {
			le.Msg = e.label + ": " + le.Msg
		}
		return nil, nil
	}
	return h, claims
}

func strNode(s string, line int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Line: line}
}

// foreignVersion refuses a version written as a number (6.10 is the number 6.1), in words that
// fit any format, and lets the loader check the text as a string.
func foreignVersion(c *registry.EntryChecker, n *yaml.Node, what string) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!float" || n.Tag == "!!int") {
		c.Errorf(n, "%s: write the version as a string, \"%s\": as a number, 6.10 would be 6.1", what, n.Value)
		n.Tag = "!!str"
	}
}
