// Package strictyaml reads the YAML files bpfmatrix names its inputs with (kernels.yaml,
// kernels.lock, realobjects.lock) strictly: a file is one document, a record is a mapping of
// known keys, each given once, and anything else is an error naming the file and line, because
// a key misspelt or repeated, or a stray "---", would otherwise drop what follows without a
// word and silently change what is tested.
package strictyaml

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Fields checks that n is a mapping whose keys are all in allowed, each at most once, and
// returns the value nodes by key. file names the file in the errors, which read
// "file:line: ..." with the line of the offending node.
func Fields(n *yaml.Node, file string, allowed ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: expected a mapping of %s", file, n.Line, strings.Join(allowed, ", "))
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(allowed, k.Value) {
			return nil, fmt.Errorf("%s:%d: unknown key %q (allowed: %s)", file, k.Line, k.Value, strings.Join(allowed, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, fmt.Errorf("%s:%d: key %q given twice", file, k.Line, k.Value)
		}
		out[k.Value] = n.Content[i+1]
	}
	return out, nil
}

// Document parses a file that must hold one YAML document. yaml.Unmarshal reads the first
// document and ignores the rest, so a "---" line would silently drop every entry after it; a
// second document is an error naming its line instead. An empty file is a document of kind 0.
func Document(data []byte, path string) (yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		return doc, fmt.Errorf("%s: %w", path, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
		return doc, nil
	case err != nil:
		return doc, fmt.Errorf("%s: %w", path, err)
	}
	return doc, fmt.Errorf("%s:%d: a second YAML document starts here: the file must be one document (remove the \"---\" line)", path, next.Line)
}

// Records reads a pin file: one document whose root is a mapping of the single key key, which
// holds the list of records. It returns the list's items, none for an empty file, an absent key
// or a key written without a value, and an error naming the file and line for anything else.
func Records(data []byte, file, key string) ([]*yaml.Node, error) {
	doc, err := Document(data, file)
	if err != nil || len(doc.Content) == 0 {
		return nil, err
	}
	root := doc.Content[0]
	if root.Kind == yaml.AliasNode {
		root = root.Alias
	}
	top, err := Fields(root, file, key)
	if err != nil {
		return nil, err
	}
	list, ok := top[key]
	switch {
	case !ok || list.Tag == "!!null":
		return nil, nil
	case list.Kind != yaml.SequenceNode:
		return nil, fmt.Errorf("%s:%d: %q must be a list", file, list.Line, key)
	}
	return list.Content, nil
}
