package vmimages

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/strictyaml"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// Config is a loaded kernels.yaml: the kernels a matrix run boots, in file order.
type Config struct {
	Path    string // the file it was read from
	Entries []Entry
}

// Entry is one kernel of kernels.yaml.
type Entry struct {
	// Name identifies the kernel in --kernels, Ginkgo labels (kernel:<name>) and output file
	// names: the series ("6.12") for Debian entries, any name for a local image.
	Name   string
	Source Source
	// Arches are the architectures the entry can be had in, in the order written: its "arch"
	// key, [amd64] when the key is absent.
	Arches []observation.Arch
	File   string // kernels.yaml path, for messages
	Line   int    // line of the entry in File
	// archLine is the line of the "arch" key (the entry's line when absent), for messages.
	archLine int

	cfg *Config
}

// Source is where a kernel image comes from. Each key an entry may use ("debian", "path") has
// one implementation; another source (an OCI kernel image, say) is one more implementation and
// one more key in sourceKinds, with no change to the loader, the lock file or the cache.
type Source interface {
	// Kind is the entry key that selects the source.
	Kind() string
	// Spec is the source's canonical one-line form, recorded in kernels.lock: a lock entry whose
	// spec differs from the current one (the entry was edited) is not used.
	Spec() string
	// fetch makes the image available in the cache and returns its verified manifest and the lock
	// entry that pins it. locked is the entry's current pin, nil when there is none (or when it is
	// being moved with --update).
	fetch(ctx context.Context, run *fetchRun, e Entry, locked *LockEntry) (*Manifest, LockEntry, error)
}

// specOf writes a Spec in the form every source's has, so that kernels.lock reads alike for all:
// the kind, the value that names the kernel, and the optional key=value when it is set.
func specOf(kind, main, optKey, optValue string) string {
	if optValue == "" {
		return kind + " " + main
	}
	return kind + " " + main + " " + optKey + "=" + optValue
}

// sourceKinds maps entry keys to the parsers of their values. dir is the directory of
// kernels.yaml, which relative paths are resolved against.
var sourceKinds = map[string]func(n *yaml.Node, file, dir string) (Source, error){
	"debian": parseDebianSource,
	"path":   parsePathSource,
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)

// BuiltinKernelsFile names the kernels.yaml built into the binary (the repository's, embedded by
// package bpfmatrix) wherever a kernels file path is taken, so that an installed bpfmatrix boots
// the same kernels as a clone without any file: LoadConfig reads it from the binary, and its
// LockPath is BuiltinLockFile, the built-in kernels.lock, which is read-only. It is no path on
// disk; the parentheses keep it apart from the file names people use.
const BuiltinKernelsFile = "(built-in)/kernels.yaml"

// DefaultKernelsFile is the kernels file to use when none is named: kernels.yaml in the current
// directory (a clone of the repository) when there is one, else BuiltinKernelsFile. Only a file
// that does not exist falls back: an unreadable kernels.yaml is reported, not silently replaced.
func DefaultKernelsFile() string {
	if _, err := os.Stat("kernels.yaml"); errors.Is(err, os.ErrNotExist) {
		return BuiltinKernelsFile
	}
	return "kernels.yaml"
}

// LoadConfig reads and checks kernels.yaml. Unknown keys, missing or duplicate names, a missing
// or second source key, and malformed values are errors that name the file and line. The path
// BuiltinKernelsFile reads the kernels file built into the binary.
func LoadConfig(path string) (*Config, error) {
	if path == BuiltinKernelsFile {
		return ParseConfig([]byte(bpfmatrix.KernelsYAML), path)
	}
	data, err := files.ReadRegular(path, files.KernelsFile)
	if err != nil {
		return nil, fmt.Errorf("kernels file: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseConfig checks kernels.yaml content; path is used in messages and to resolve relative paths.
func ParseConfig(data []byte, path string) (*Config, error) {
	doc, err := strictyaml.Document(data, path)
	if err != nil {
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty file: expected a \"kernels:\" list", path)
	}
	root := deref(doc.Content[0])
	top, err := strictyaml.Fields(root, path, "kernels")
	if err != nil {
		return nil, err
	}
	list, ok := top["kernels"]
	if !ok {
		return nil, fmt.Errorf("%s:%d: missing \"kernels\" list", path, root.Line)
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: \"kernels\" must be a list", path, list.Line)
	}
	if len(list.Content) == 0 {
		return nil, fmt.Errorf("%s:%d: \"kernels\" is empty", path, list.Line)
	}
	dir := filepath.Dir(path)
	cfg := &Config{Path: path}
	seen := map[string]int{}
	for _, item := range list.Content {
		item = deref(item)
		keys := append([]string{"name", "arch"}, slices.Sorted(maps.Keys(sourceKinds))...)
		fields, err := strictyaml.Fields(item, path, keys...)
		if err != nil {
			return nil, err
		}
		nameNode, ok := fields["name"]
		if !ok {
			return nil, fmt.Errorf("%s:%d: kernel entry without a name", path, item.Line)
		}
		name, err := scalar(nameNode, path, "name")
		if err != nil {
			return nil, err
		}
		if !namePattern.MatchString(name) {
			return nil, fmt.Errorf("%s:%d: kernel name %q: use letters, digits, '.', '_', '+' and '-' (it becomes a file name and a Ginkgo label)", path, nameNode.Line, name)
		}
		if first, dup := seen[name]; dup {
			return nil, fmt.Errorf("%s:%d: kernel %q is listed twice (first at line %d)", path, nameNode.Line, name, first)
		}
		seen[name] = nameNode.Line
		var src Source
		for _, kind := range slices.Sorted(maps.Keys(sourceKinds)) {
			n, ok := fields[kind]
			if !ok {
				continue
			}
			if src != nil {
				return nil, fmt.Errorf("%s:%d: kernel %q has two sources (%s and %s): use one", path, n.Line, name, src.Kind(), kind)
			}
			if src, err = sourceKinds[kind](deref(n), path, dir); err != nil {
				return nil, fmt.Errorf("kernel %q: %w", name, err)
			}
		}
		if src == nil {
			return nil, fmt.Errorf("%s:%d: kernel %q has no source: add one of %s", path, item.Line, name, strings.Join(slices.Sorted(maps.Keys(sourceKinds)), ", "))
		}
		e := Entry{Name: name, Source: src, File: path, Line: item.Line, cfg: cfg}
		if err := e.parseArches(fields["arch"], path); err != nil {
			return nil, err
		}
		cfg.Entries = append(cfg.Entries, e)
	}
	return cfg, nil
}

// Names lists the kernel names in file order.
func (c *Config) Names() []string {
	names := make([]string, len(c.Entries))
	for i, e := range c.Entries {
		names[i] = e.Name
	}
	return names
}

// Builtin reports whether c is the kernels file built into the binary: its lock is read-only.
func (c *Config) Builtin() bool { return c.Path == BuiltinKernelsFile }

// LockPath is the kernels.lock that belongs to this kernels.yaml: the same directory. For the
// built-in kernels file that is BuiltinLockFile.
func (c *Config) LockPath() string {
	return filepath.Join(filepath.Dir(c.Path), "kernels.lock")
}

// Select returns the entries with the given names in file order, or all entries when names is
// empty. Names may also be given comma-separated ("5.10,7.3"). An unknown name is an error that
// names it and lists the known ones.
func (c *Config) Select(names []string) ([]Entry, error) {
	if len(names) == 0 {
		return append([]Entry(nil), c.Entries...), nil
	}
	want := map[string]bool{}
	var unknown []string
	for _, n := range names {
		for _, part := range strings.Split(n, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			found := false
			for _, e := range c.Entries {
				found = found || e.Name == part
			}
			if !found {
				unknown = append(unknown, part)
			}
			want[part] = true
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown kernel %s (%s lists: %s)", strings.Join(quoteAll(unknown), ", "), c.Path, strings.Join(c.Names(), ", "))
	}
	if len(want) == 0 {
		return nil, errors.New("no kernel names given")
	}
	var out []Entry
	for _, e := range c.Entries {
		if want[e.Name] {
			out = append(out, e)
		}
	}
	return out, nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// deref follows YAML aliases so that anchors work like written-out values.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// requiredScalar returns the value of a key that the mapping n of a source must have, and its
// node; a missing key is an error naming the source and the key, then hint (an example, or "").
func requiredScalar(fields map[string]*yaml.Node, n *yaml.Node, file, source, key, hint string) (string, *yaml.Node, error) {
	v, ok := fields[key]
	if !ok {
		return "", nil, fmt.Errorf("%s:%d: %s: missing %s%s", file, n.Line, source, key, hint)
	}
	text, err := scalar(v, file, key)
	return text, v, err
}

// scalar returns a scalar's text as written, so that "series: 6.10" means "6.10" even though
// YAML would read it as the number 6.1.
func scalar(n *yaml.Node, file, key string) (string, error) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", fmt.Errorf("%s:%d: %s: expected a value", file, n.Line, key)
	}
	if strings.TrimSpace(n.Value) == "" {
		return "", fmt.Errorf("%s:%d: %s is empty", file, n.Line, key)
	}
	return n.Value, nil
}
