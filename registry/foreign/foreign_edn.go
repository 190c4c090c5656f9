package foreign

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// The helper table of a Clojure library: a map of keyword to entry, as in
//
//	(def helper-metadata
//	  {:map-lookup-elem {:id 1 :name "bpf_map_lookup_elem"
//	                     :signature {:return :ptr :args [:map-ptr :key-ptr]}
//	                     :min-kernel "3.19" :prog-types :all :category :map
//	                     :description "..."}})
//
// Keys are our registry keys with dashes (:min-kernel, :prog-type-since, :gpl-only). Keyword
// names of program types, categories and attach types are kernel names with dashes
// (:sched-cls is sched_cls). :name may carry the bpf_ prefix and may be left out: the entry's
// keyword then names the helper.

// ednTableName is the name the guide gives its table; it settles which map is the table when a
// Clojure file defines several.
const ednTableName = "helper-metadata"

// parseEDNTable reads an EDN or Clojure helper table.
func parseEDNTable(file string, data []byte) (*registry.Registry, *Provenance, error) {
	forms, err := readEDN(file, data)
	if err != nil {
		return nil, nil, err
	}
	table, err := ednTableForm(file, forms)
	if err != nil {
		return nil, nil, err
	}
	c := registry.NewEntryChecker(file)
	var entries []foreignEntry
	for i := 0; i+1 < len(table.items); i += 2 {
		k, v := table.items[i], table.items[i+1]
		if k.kind != ednKeyword {
			c.Errorf(lineNode(k.line), "helper table: want a keyword naming the helper (:map-lookup-elem) as key, found %s %s", k.kind, k.written())
			continue
		}
		label := ":" + k.text
		node := ednEntry(c, label, k, v)
		if node == nil {
			continue
		}
		entries = append(entries, foreignEntry{node: node, label: label, written: fmt.Sprintf("%s (%s:%d)", label, file, k.line)})
	}
	return foreignTable(c, data, entries, FormatEDN, table.line)
}

func lineNode(line int) *yaml.Node { return &yaml.Node{Line: line} }

// ednTableForm picks the helper table among the top-level forms: a map, alone or as the value of
// (def name map) or (def name "doc" map). (ns ...) and (comment ...) forms are passed over, as are
// defs of other values; any other form is an error.
func ednTableForm(file string, forms []*ednNode) (*ednNode, error) {
	var cands []ednCandidate
	for _, f := range forms {
		if f.kind == ednMap {
			cands = append(cands, ednCandidate{line: f.line, n: f})
			continue
		}
		head := ""
		if f.kind == ednList && len(f.items) > 0 && f.items[0].kind == ednSymbol {
			head = f.items[0].text
		}
		switch head {
		case "ns", "comment":
			continue
		case "def", "defonce":
			name, val, err := ednDef(file, f)
			if err != nil {
				return nil, err
			}
			if val.kind == ednMap {
				cands = append(cands, ednCandidate{name: name, line: f.line, n: val})
			}
			continue
		}
		return nil, &registry.LineError{File: file, Line: f.line, Msg: fmt.Sprintf("%s at the top level: want the helper table, a map of keyword to entry, alone or in (def %s {...})", f.kind, ednTableName)}
	}
	return ednPickTable(file, cands)
}

// ednCandidate is a map at the top level of an EDN file that could be the helper table, with
// the name it is defined under ("" for a bare map).
type ednCandidate struct {
	name string
	line int // where the form starts: the def, or the bare map
	n    *ednNode
}

// ednPickTable picks the helper table among the candidate maps: the only one, or the one named
// ednTableName.
func ednPickTable(file string, cands []ednCandidate) (*ednNode, error) {
	switch len(cands) {
	case 0:
		return nil, &registry.LineError{File: file, Msg: "no helper table: want a map of keyword to entry, alone or in (def " + ednTableName + " {...})"}
	case 1:
		return cands[0].n, nil
	}
	var named []ednCandidate
	for _, c := range cands {
		if c.name == ednTableName {
			named = append(named, c)
		}
	}
	switch len(named) {
	case 1:
		return named[0].n, nil
	case 0:
	default:
		// Clojure would keep the last def and a reader the first: either way one table would
		// be dropped without a word.
		return nil, &registry.LineError{File: file, Line: named[1].line, Msg: fmt.Sprintf("a second (def %s ...) (the first is on line %d): keep one table", ednTableName, named[0].line)}
	}
	var found []string
	for _, c := range cands {
		what := "a map"
		if c.name != "" {
			what = c.name
		}
		found = append(found, fmt.Sprintf("%s on line %d", what, c.n.line))
	}
	return nil, &registry.LineError{File: file, Line: cands[1].n.line, Msg: fmt.Sprintf("%d maps could be the helper table (%s): keep one, or name it %s", len(cands), strings.Join(found, ", "), ednTableName)}
}

// ednDef reads (def name value) or (def name "doc" value).
func ednDef(file string, f *ednNode) (string, *ednNode, error) {
	n := len(f.items)
	if n < 3 || n > 4 || f.items[1].kind != ednSymbol || n == 4 && f.items[2].kind != ednString {
		return "", nil, &registry.LineError{File: file, Line: f.line, Msg: fmt.Sprintf("malformed (%s ...): want (%s name value) or (%s name \"doc\" value)", f.items[0].text, f.items[0].text, f.items[0].text)}
	}
	return f.items[1].text, f.items[n-1], nil
}

// ednMode says what a keyword stands for where it is converted.
type ednMode int

const (
	ednStrict ednMode = iota // not allowed: the loader refuses it where it wants a string
	ednNames                 // a kernel name with dashes: :sched-cls is sched_cls
	ednTypes                 // a type as the table writes it, kept with its colon: ":u64"
)

// ednKeyModes is what each entry key of an EDN table is called in our registry, and how its
// keywords are read.
var ednKeyModes = func() map[string]ednMode {
	m := map[string]ednMode{}
	for _, k := range registryKeys() {
		m[dashed(k)] = ednStrict
	}
	for _, k := range []string{"prog_types", "category", "prog_type_since", "prog_type_until", "prog_type_gaps", "attach_types", "sources"} {
		m[dashed(k)] = ednNames
	}
	m[dashed("signature")] = ednTypes
	return m
}()

// registryKeys returns every key of a helpers.yaml entry, required ones first.
func registryKeys() []string {
	required, optional := registry.HelperKeys()
	return append(required, optional...)
}

// dashed spells a registry key or kernel name as a keyword name: dashes for underscores.
func dashed(name string) string { return strings.ReplaceAll(name, "_", "-") }

// kernelName spells a keyword name as a kernel name: underscores for dashes.
func kernelName(kw string) string { return strings.ReplaceAll(kw, "-", "_") }

func ednKnownKeys() string {
	var known []string
	for _, k := range registryKeys() {
		known = append(known, ":"+dashed(k))
	}
	return strings.Join(known, " ")
}

// ednEntry converts one entry of an EDN table to the mapping our loader checks, with our keys.
func ednEntry(c *registry.EntryChecker, label string, key, v *ednNode) *yaml.Node {
	if v.kind != ednMap {
		c.Errorf(lineNode(v.line), "%s: want a map of the helper's facts, found %s", label, v.kind)
		return nil
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: key.line}
	ok, named := true, false
	for i := 0; i+1 < len(v.items); i += 2 {
		k, val := v.items[i], v.items[i+1]
		mode, known := ednKeyModes[k.text]
		if k.kind != ednKeyword || !known {
			c.Errorf(lineNode(k.line), "%s: unknown key %s (known: %s)", label, k.written(), ednKnownKeys())
			ok = false
			continue
		}
		y := ednToYAML(val, mode)
		if k.text == "name" {
			named = true
			if y.Tag == "!!str" {
				y.Value = strings.TrimPrefix(y.Value, "bpf_")
			}
		}
		m.Content = append(m.Content, strNode(kernelName(k.text), k.line), y)
	}
	if !named {
		name := kernelName(key.text[strings.LastIndex(key.text, "/")+1:])
		m.Content = append(m.Content, strNode("name", key.line), strNode(strings.TrimPrefix(name, "bpf_"), key.line))
	}
	if !ok {
		return nil
	}
	return m
}

// ednScalarTags are the YAML tags of the EDN scalars that keep their text as they are; a keyword's
// tag depends on where it stands (see ednToYAML).
var ednScalarTags = map[ednKind]string{
	ednNil: "!!null", ednBool: "!!bool", ednInt: "!!int", ednFloat: "!!float", ednString: "!!str", ednSymbol: "!!symbol",
}

// ednToYAML converts an EDN value to a YAML node of the shape our loader checks: scalars keep
// their text with a tag the loader's messages name (!!str, !!int, !!float, !!bool, !!null, and
// !!keyword or !!symbol for what a string was wanted in place of); map keys that are keywords
// become kernel names.
func ednToYAML(n *ednNode, mode ednMode) *yaml.Node {
	y := &yaml.Node{Kind: yaml.ScalarNode, Line: n.line, Value: n.text, Tag: ednScalarTags[n.kind]}
	switch n.kind {
	case ednKeyword:
		switch mode {
		case ednNames:
			y.Tag, y.Value = "!!str", kernelName(n.text)
		case ednTypes:
			y.Tag, y.Value = "!!str", ":"+n.text
		default:
			y.Tag, y.Value = "!!keyword", ":"+n.text
		}
	case ednList, ednVector, ednSet:
		y.Kind, y.Tag, y.Value = yaml.SequenceNode, "!!seq", ""
		for _, it := range n.items {
			y.Content = append(y.Content, ednToYAML(it, mode))
		}
	case ednMap:
		y.Kind, y.Tag, y.Value = yaml.MappingNode, "!!map", ""
		for i := 0; i+1 < len(n.items); i += 2 {
			k := n.items[i]
			ky := ednToYAML(k, mode)
			if k.kind == ednKeyword {
				ky = strNode(kernelName(k.text), k.line)
			}
			y.Content = append(y.Content, ky, ednToYAML(n.items[i+1], mode))
		}
	}
	return y
}
