package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
)

// EmbeddedKfuncsFile is the name under which the embedded kfunc table reports errors.
const EmbeddedKfuncsFile = "registry/kfuncs.yaml"

// DefaultKfuncs returns the kfunc table embedded in the binary.
func DefaultKfuncs() (*Kfuncs, error) {
	if embeddedKfuncs == nil {
		return nil, ErrNotEmbedded
	}
	return ParseKfuncs(EmbeddedKfuncsFile, embeddedKfuncs)
}

// LoadKfuncs reads and validates a kfunc file (regular files of at most 16 MiB, files.Registry, only).
func LoadKfuncs(path string) (*Kfuncs, error) {
	data, err := files.ReadRegular(path, files.Registry)
	if err != nil {
		return nil, err
	}
	return ParseKfuncs(path, data)
}

func sum256(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

var (
	kfuncRequired = []string{"name", "prototype", "min_kernel", "prog_types", "category"}
	kfuncOptional = []string{"last_kernel", "gaps", "prog_type_since", "prog_type_until", "prog_type_gaps",
		"flags", "module", "description", "sources", "notes"}
	kfuncNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	flagRE      = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// ParseKfuncs validates data, the contents of a kfunc file called file: a YAML sequence of
// entries, as strict as helpers.yaml (unknown keys, duplicates and bad values are errors with
// file:line).
func ParseKfuncs(file string, data []byte) (ks *Kfuncs, err error) {
	defer func() {
		if p := recover(); p != nil {
			ks, err = nil, &LineError{File: file, Msg: fmt.Sprintf("cannot parse YAML: %v", p)}
		}
	}()
	root, err := document(file, data)
	if err != nil {
		return nil, err
	}
	l := &loader{file: file}
	if root.Kind != yaml.SequenceNode {
		l.errorf(root, "want a YAML sequence of kfunc entries, found %s", kindName(root))
		return nil, errors.Join(l.errs...)
	}
	var out []*Kfunc
	seen := map[string]*Kfunc{}
	for _, item := range root.Content {
		k := l.kfunc(item)
		if k == nil {
			continue
		}
		if prev, dup := seen[k.Name]; dup {
			l.errorf(item, "duplicate kfunc %s (first at line %d)", excerpt(k.Name), prev.line)
			continue
		}
		seen[k.Name] = k
		out = append(out, k)
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return newKfuncs(file, data, out), nil
}

func (l *loader) kfunc(n *yaml.Node) *Kfunc {
	fields := l.mapping(n, "kfunc entry")
	if fields == nil {
		return nil
	}
	before := len(l.errs)
	k := &Kfunc{line: n.Line}
	for _, f := range kfuncRequired {
		if _, ok := fields.get(f); !ok {
			l.errorf(n, "entry is missing required key %q", f)
		}
	}
	for _, kv := range fields {
		l.kfuncField(k, kv)
	}
	if len(l.errs) > before {
		return nil
	}
	l.kfuncCrossCheck(k, fields)
	if len(l.errs) > before {
		return nil
	}
	return k
}

func (l *loader) kfuncField(k *Kfunc, kv field) {
	key, v := kv.key, kv.valN
	switch key {
	case "name":
		k.Name = l.str(v, "name")
		if k.Name != "" && !kfuncNameRE.MatchString(k.Name) {
			l.errorf(v, "name %s: want a C identifier", excerpt(k.Name))
		}
	case "prototype":
		k.Prototype = strings.TrimSpace(l.str(v, "prototype"))
	case "min_kernel":
		k.MinKernel = l.version(v, key)
	case "last_kernel":
		k.LastKernel = l.version(v, key)
	case "gaps":
		k.Gaps = l.gapList(v, key)
	case "prog_types":
		// A kfunc may be callable from no probed program type (a struct_ops member the probe
		// does not load, a test function): an empty list says so.
		if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
			k.ProgTypes = ProgTypes{}
		} else {
			k.ProgTypes = l.progTypes(v)
		}
	case "prog_type_since":
		k.ProgTypeSince = l.versionMap(v, key)
	case "prog_type_until":
		k.ProgTypeUntil = l.versionMap(v, key)
	case "prog_type_gaps":
		k.ProgTypeGaps = l.gapMap(v, key)
	case "flags":
		k.Flags = l.strList(v, key, flagRE)
	case "module":
		k.Module = l.str(v, key)
	case "category":
		k.Category = l.str(v, key)
		if k.Category != "" && !slices.Contains(KfuncCategories, k.Category) {
			l.errorf(v, "unknown kfunc category %s (known: %s)", excerpt(k.Category), strings.Join(KfuncCategories, ", "))
		}
	case "description":
		k.Description = strings.TrimSpace(l.str(v, key))
	case "sources":
		k.Sources = l.strMap(v, key)
	case "notes":
		k.Notes = strings.TrimSpace(l.str(v, key))
	default:
		l.errorf(kv.keyN, "unknown key %s (known: %s, %s)", excerpt(key),
			strings.Join(kfuncRequired, ", "), strings.Join(kfuncOptional, ", "))
	}
}

func (l *loader) kfuncCrossCheck(k *Kfunc, fields fields) {
	if !strings.Contains(k.Prototype, k.Name+"(") {
		f, _ := fields.get("prototype")
		l.errorf(f.valN, "prototype %s does not declare %s", excerpt(k.Prototype), k.Name)
	}
	if !k.LastKernel.IsZero() && k.LastKernel.Series().Less(k.MinKernel.Series()) {
		f, _ := fields.get("last_kernel")
		l.errorf(f.valN, "last_kernel %s is older than min_kernel %s", k.LastKernel, k.MinKernel)
	}
	for _, key := range []string{"prog_type_since", "prog_type_until", "prog_type_gaps"} {
		f, ok := fields.get(key)
		if !ok {
			continue
		}
		var types []string
		switch key {
		case "prog_type_since":
			types = sortedKeys(k.ProgTypeSince)
		case "prog_type_until":
			types = sortedKeys(k.ProgTypeUntil)
		default:
			types = sortedKeys(k.ProgTypeGaps)
		}
		for _, t := range types {
			if !k.ProgTypes.Contains(t) {
				l.errorf(f.valN, "%s names %s, which prog_types does not list", key, t)
			}
		}
	}
}

// gapList reads a list of "FROM..TO" release ranges.
func (l *loader) gapList(n *yaml.Node, what string) []Gap {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		l.errorf(n, "%s: want a list of \"FROM..TO\" ranges", what)
		return nil
	}
	var out []Gap
	for _, item := range n.Content {
		if g, ok := l.gap(item, what); ok {
			out = append(out, g)
		}
	}
	return out
}
