package foreign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// A JSON helper table: an array of objects with the keys `helpers list --format json` prints,
// which are our registry's keys. Unknown keys are errors naming the entry and the key.

// jsonReader turns JSON into YAML nodes that carry the line each value starts on, so that the
// loader's checks and messages apply to JSON unchanged.
type jsonReader struct {
	file   string
	data   []byte
	dec    *json.Decoder
	depth  int
	values int // values read so far (see maxValues)
	// at and atLine are the last offset lineOf was asked about and its line: values are read
	// in order, so counting the newlines since the last one keeps lineOf linear overall
	// without an index of every line (16 MiB of newlines made one of 128 MB).
	at     int64
	atLine int
}

var jsonIntRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// parseJSONTable reads a JSON helper table.
func parseJSONTable(file string, data []byte) (*registry.Registry, *Provenance, error) {
	root, err := readJSON(file, data)
	if err != nil {
		return nil, nil, err
	}
	c := registry.NewEntryChecker(file)
	if root.Kind != yaml.SequenceNode {
		return nil, nil, &registry.LineError{File: file, Line: root.Line, Msg: "want a JSON array of helper entries, found " + jsonKindName(root)}
	}
	var entries []foreignEntry
	for i, item := range root.Content {
		label := fmt.Sprintf("entry %d", i)
		if item.Kind != yaml.MappingNode {
			c.Errorf(item, "%s: want an object, found %s", label, jsonKindName(item))
			continue
		}
		for j := 0; j+1 < len(item.Content); j += 2 {
			if k, v := item.Content[j], item.Content[j+1]; k.Value == "name" && v.Tag == "!!str" {
				label += " " + registry.Excerpt(v.Value)
				break
			}
		}
		entries = append(entries, foreignEntry{node: item, label: label, written: fmt.Sprintf("%s (%s:%d)", label, file, item.Line)})
	}
	return foreignTable(c, data, entries, FormatJSON, root.Line)
}

func jsonKindName(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "an object"
	case n.Kind == yaml.SequenceNode:
		return "an array"
	case n.Tag == "!!str":
		return "the string " + registry.Excerpt(n.Value)
	}
	return n.Value
}

// readJSON parses data as exactly one JSON value.
func readJSON(file string, data []byte) (*yaml.Node, error) {
	r := &jsonReader{file: file, data: data, dec: json.NewDecoder(bytes.NewReader(data)), atLine: 1}
	r.dec.UseNumber()
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &registry.LineError{File: file, Msg: "empty file: want a JSON array of helper entries"}
	}
	root, err := r.value()
	if err != nil {
		return nil, err
	}
	if _, err := r.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, r.errorAt(r.start(), "more after the JSON value that ends on line %d: a table is one array", root.Line)
	}
	return root, nil
}

// lineOf returns the line of byte offset off.
func (r *jsonReader) lineOf(off int64) int {
	off = min(max(off, 0), int64(len(r.data)))
	if off < r.at {
		r.at, r.atLine = 0, 1
	}
	r.atLine += bytes.Count(r.data[r.at:off], []byte("\n"))
	r.at = off
	return r.atLine
}

// start returns the offset where the next token starts: the decoder stands after the previous
// one, before any white space and separator.
func (r *jsonReader) start() int64 {
	off := r.dec.InputOffset()
	for off < int64(len(r.data)) && bytes.IndexByte([]byte(" \t\r\n,:"), r.data[off]) >= 0 {
		off++
	}
	return off
}

func (r *jsonReader) errorAt(off int64, format string, args ...any) error {
	return &registry.LineError{File: r.file, Line: r.lineOf(off), Msg: fmt.Sprintf(format, args...)}
}

// syntaxError locates an error of the JSON decoder.
func (r *jsonReader) syntaxError(err error, at int64) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return r.errorAt(max(se.Offset-1, 0), "cannot parse JSON: %v", err)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return r.errorAt(int64(len(r.data)), "cannot parse JSON: the file ends inside a value")
	}
	return r.errorAt(at, "cannot parse JSON: %v", err)
}

// value reads one JSON value and returns it as a YAML node.
func (r *jsonReader) value() (*yaml.Node, error) {
	at := r.start()
	if r.values++; r.values > maxValues {
		return nil, r.errorAt(at, "more than %d values: a helper table of 211 helpers has some 14,000", maxValues)
	}
	tok, err := r.dec.Token()
	if err != nil {
		return nil, r.syntaxError(err, at)
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Line: r.lineOf(at)}
	switch t := tok.(type) {
	case json.Delim:
		if r.depth++; r.depth > maxDepth {
			return nil, r.errorAt(at, "arrays and objects nest deeper than %d levels", maxDepth)
		}
		defer func() { r.depth-- }()
		if t == '[' {
			n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
		} else {
			n.Kind, n.Tag = yaml.MappingNode, "!!map"
		}
		for r.dec.More() {
			if n.Kind == yaml.MappingNode {
				k, err := r.value()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, k)
			}
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, v)
		}
		if _, err := r.dec.Token(); err != nil { // the closing ] or }
			return nil, r.syntaxError(err, r.start())
		}
	case string:
		n.Tag, n.Value = "!!str", t
	case json.Number:
		n.Tag, n.Value = "!!float", t.String()
		if jsonIntRE.MatchString(n.Value) {
			n.Tag = "!!int"
		}
	case bool:
		n.Tag, n.Value = "!!bool", fmt.Sprint(t)
	case nil:
		n.Tag, n.Value = "!!null", "null"
	}
	return n, nil
}
