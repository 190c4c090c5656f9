package registry

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
)

// Helper tables in other people's formats. Besides our YAML, LoadTable reads the table of a
// Clojure library in its own EDN notation and a JSON array with our field names, and checks them
// as strictly as our own file where the checks make sense. An entry of such a table records how
// it was written (Written) and which facts its author actually stated (Claims), so that a verdict
// judges the author's claims and not the defaults that filled the gaps.

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

// Claimed reports whether the entry's author stated the fact of the registry key key (for
// instance "gpl_only"). Every key counts as claimed for entries of our own YAML format; for a
// foreign table only the keys the entry has do, and a verdict should not judge the others.
func (h *Helper) Claimed(key string) bool {
	return h.Claims == nil || h.Claims[key]
}

// Foreign reports whether the entry comes from a table in someone else's format (EDN or JSON).
func (h *Helper) Foreign() bool {
	return h.Format == FormatEDN || h.Format == FormatJSON
}

// Unclaimed returns, sorted, the required registry keys the entry's author did not write, whose
// facts are the loader's neutral defaults (nil for our own YAML format).
func (h *Helper) Unclaimed() []string {
	if h.Claims == nil {
		return nil
	}
	var out []string
	for _, k := range requiredFields {
		if !h.Claims[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// WrittenAs names the entry as its author wrote it: Written when the loader recorded it,
// otherwise the name and, when known, the line ("map_lookup_elem (line 3)").
func (h *Helper) WrittenAs() string {
	switch {
	case h.Written != "":
		return h.Written
	case h.line > 0:
		return fmt.Sprintf("%s (line %d)", h.Name, h.line)
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
// with the same limits as Load: a regular file of at most 16 MiB (files.Registry).
func LoadTable(path string) (*Registry, error) {
	data, err := files.ReadRegular(path, files.Registry)
	if err != nil {
		return nil, err
	}
	return ParseTable(path, data, DetectFormat(path, data))
}

// ParseTable validates data, the contents of the helper table file in format, and builds a
// Registry whose entries record how they were written (Helper.Written, Helper.Format) and, for
// foreign formats, which facts their author stated (Helper.Claims).
func ParseTable(file string, data []byte, format Format) (*Registry, error) {
	switch format {
	case FormatYAML:
		reg, err := Parse(file, data)
		if err != nil {
			return nil, err
		}
		for _, h := range reg.helpers {
			h.Written = fmt.Sprintf("%s (%s:%d)", h.Name, file, h.line)
			h.Format = FormatYAML
		}
		return reg, nil
	case FormatEDN:
		return parseEDNTable(file, data)
	case FormatJSON:
		return parseJSONTable(file, data)
	}
	return nil, &LineError{File: file, Msg: fmt.Sprintf("unknown table format %q (want yaml, edn or json)", format)}
}

// foreignEntry is one entry of a foreign table, converted to the YAML node shape our loader
// checks: a mapping with our keys. label names the entry in messages; written adds its place.
type foreignEntry struct {
	node           *yaml.Node
	label, written string
}

// foreignTable checks the entries of a foreign table and builds the registry. Ids and names
// must be unique; a duplicate is reported naming both entries.
func (l *loader) foreignTable(data []byte, entries []foreignEntry, format Format, at int) (*Registry, error) {
	var helpers []*Helper
	ids := map[int]*Helper{}
	names := map[string]*Helper{}
	for _, e := range entries {
		h := l.foreignHelper(e, format)
		if h == nil {
			continue
		}
		if prev, dup := ids[h.ID]; dup {
			l.errorf(e.node, "%s: duplicate id %d: %s has it too", e.label, h.ID, prev.Written)
			continue
		}
		if prev, dup := names[h.Name]; dup {
			l.errorf(e.node, "%s: duplicate name %s: %s has it too", e.label, h.Name, prev.Written)
			continue
		}
		ids[h.ID], names[h.Name] = h, h
		helpers = append(helpers, h)
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	if len(helpers) == 0 {
		return nil, &LineError{File: l.file, Line: at, Msg: "no helper entries"}
	}
	return newRegistry(l.file, data, helpers), nil
}

// foreignHelper checks one entry of a foreign table with the rules of our own loader. The
// differences: gpl_only may be left out (it is then false and not claimed), arguments may have
// no name, and a version must be a string whatever the format's number syntax. Every message
// starts with the entry's label.
func (l *loader) foreignHelper(e foreignEntry, format Format) *Helper {
	start := len(l.errs)
	n := e.node
	claims := Claims{}
	var sigN *yaml.Node
	content := make([]*yaml.Node, 0, len(n.Content)+2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		claims[k.Value] = true
		switch k.Value {
		case "signature":
			// Checked below by signature; the loader sees a placeholder.
			sigN = v
			v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: v.Line, Content: []*yaml.Node{
				strNode("return", v.Line), strNode("void", v.Line),
				strNode("args", v.Line), {Kind: yaml.SequenceNode, Tag: "!!seq", Line: v.Line},
			}}
		case "min_kernel":
			l.foreignVersion(v, k.Value)
		case "prog_type_since", "prog_type_until":
			if v.Kind == yaml.MappingNode {
				for j := 1; j < len(v.Content); j += 2 {
					l.foreignVersion(v.Content[j], k.Value+"."+v.Content[j-1].Value)
				}
			}
		}
		content = append(content, k, v)
	}
	if !claims["gpl_only"] {
		content = append(content, strNode("gpl_only", n.Line), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false", Line: n.Line})
	}
	h := l.helper(&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column, Content: content})
	var sig Signature
	if sigN != nil {
		sig = l.signature(sigN, true)
	}
	if h == nil || len(l.errs) > start {
		for _, err := range l.errs[start:] {
			if le, ok := err.(*LineError); ok {
				le.Msg = e.label + ": " + le.Msg
			}
		}
		return nil
	}
	h.Signature = sig
	h.Claims, h.Written, h.Format = claims, e.written, format
	return h
}

func strNode(s string, line int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Line: line}
}

// foreignVersion refuses a version written as a number (6.10 is the number 6.1), in words that
// fit any format, and lets the loader check the text as a string.
func (l *loader) foreignVersion(n *yaml.Node, what string) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!float" || n.Tag == "!!int") {
		l.errorf(n, "%s: write the version as a string, \"%s\": as a number, 6.10 would be 6.1", what, n.Value)
		n.Tag = "!!str"
	}
}
