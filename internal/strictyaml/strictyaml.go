// Package strictyaml reads the records of the YAML files bpfmatrix pins its inputs with
// (kernels.lock, realobjects.lock) strictly: a record is a mapping of known keys,
// each given once, and anything else is an error naming the file and line, because a key
// misspelt or repeated in such a file would otherwise be dropped without a word and silently
// change what is tested.
package strictyaml

import (
	"fmt"
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
