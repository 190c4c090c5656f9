package registry

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// LineError is one problem in a registry file, located by file and line.
type LineError struct {
	File string
	Line int
	Msg  string
}

// Error renders the problem as file:line: message, the form editors jump to.
func (e *LineError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// maxErrors bounds how many problems one load reports; past that the file is likely not a
// registry at all and more lines would only bury the first ones.
const maxErrors = 20

var (
	nameRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	configRE = regexp.MustCompile(`^CONFIG_[A-Z0-9_]+$`)
)

// loader walks a parsed YAML document and collects every problem with its line.
type loader struct {
	file string
	errs []error
	// foreign relaxes the signature rules for entries of other formats (see EntryChecker).
	foreign bool
}

func (l *loader) errorf(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, &LineError{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
}

// field is one key of a YAML mapping with its key and value nodes.
type field struct {
	key        string
	keyN, valN *yaml.Node
}

// fields is a mapping's keys in document order, so that errors come out in file order.
type fields []field

func (fs fields) get(key string) (field, bool) {
	for _, f := range fs {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// mapping returns a mapping node's keys in order, rejecting duplicates. It returns nil (and
// records an error) when n is not a mapping.
func (l *loader) mapping(n *yaml.Node, what string) fields {
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "%s: want a mapping, found %s", what, kindName(n))
		return nil
	}
	out := make(fields, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
			l.errorf(k, "%s: keys must be plain strings", what)
			continue
		}
		if _, dup := out.get(k.Value); dup {
			l.errorf(k, "%s: duplicate key %s", what, excerpt(k.Value))
			continue
		}
		out = append(out, field{key: k.Value, keyN: k, valN: v})
	}
	return out
}

func (l *loader) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		l.errorf(n, "%s: want a scalar, found %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (l *loader) str(n *yaml.Node, what string) string {
	s, ok := l.scalar(n, what)
	if !ok {
		return ""
	}
	if n.Tag != "!!str" {
		l.errorf(n, "%s: want a string, found %s %s", what, strings.TrimPrefix(n.Tag, "!!"), excerpt(s))
		return ""
	}
	return s
}

func (l *loader) boolean(n *yaml.Node, what string) bool {
	s, ok := l.scalar(n, what)
	if !ok {
		return false
	}
	if n.Tag != "!!bool" || (s != "true" && s != "false") {
		l.errorf(n, "%s: want true or false, found %s", what, excerpt(s))
		return false
	}
	return s == "true"
}

func (l *loader) version(n *yaml.Node, what string) Version {
	s, ok := l.scalar(n, what)
	if !ok {
		return Version{}
	}
	if n.Tag != "!!str" {
		// An unquoted 6.10 is the float 6.1: refuse it rather than guess what was meant.
		l.errorf(n, "%s: write versions as quoted strings (%s): unquoted, YAML reads it as a %s", what, excerpt(s), strings.TrimPrefix(n.Tag, "!!"))
		return Version{}
	}
	v, err := ParseVersion(s)
	if err != nil {
		l.errorf(n, "%s: %s", what, versionErr(s, err))
		return Version{}
	}
	if strings.ContainsAny(s, "-+~") {
		l.errorf(n, "%s: %s: write an upstream version such as \"5.8\", not a release string", what, excerpt(s))
	}
	return v
}

// signature reads an entry's signature: return and args, each argument a mapping with a name
// and a type. A foreign table (l.foreign, see EntryChecker) may also write an argument as an
// EDN keyword standing for its type, kept as written with its colon (":map-ptr"), leave
// argument names out, and give a return that is not a string.
func (l *loader) signature(n *yaml.Node) Signature {
	foreign := l.foreign
	fields := l.mapping(n, "signature")
	if fields == nil {
		return Signature{}
	}
	var sig Signature
	if foreign {
		sig.Args = []Arg{}
	}
	seenReturn, seenArgs := false, false
	for _, kv := range fields {
		switch kv.key {
		case "return":
			seenReturn = true
			sig.Return = strings.TrimSpace(l.str(kv.valN, "signature.return"))
			if sig.Return == "" && (!foreign || kv.valN.Tag == "!!str") {
				l.errorf(kv.valN, "signature.return is empty")
			}
		case "args":
			seenArgs = true
			sig.Args = l.args(kv.valN)
		default:
			l.errorf(kv.keyN, "signature: unknown key %s (known: return, args)", excerpt(kv.key))
		}
	}
	if !seenReturn || !seenArgs {
		none := "args: [] for none"
		if foreign {
			none = "an empty list for none"
		}
		l.errorf(n, "signature needs both return and args (%s)", none)
	}
	return sig
}

func (l *loader) args(n *yaml.Node) []Arg {
	foreign := l.foreign
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, "signature.args: want a list, found %s", kindName(n))
		if foreign {
			return []Arg{}
		}
		return nil
	}
	if len(n.Content) > 5 {
		l.errorf(n, "signature.args: %d arguments, BPF helpers take at most 5", len(n.Content))
	}
	args := []Arg{}
	seen := map[string]bool{}
	for _, a := range n.Content {
		arg, ok := l.arg(a)
		if !ok {
			continue
		}
		if arg.Name != "" && seen[arg.Name] {
			l.errorf(a, "signature: duplicate argument name %s", excerpt(arg.Name))
		}
		seen[arg.Name] = true
		args = append(args, arg)
	}
	return args
}

// arg reads one signature argument; ok is false when it is unusable (and reported).
func (l *loader) arg(a *yaml.Node) (arg Arg, ok bool) {
	foreign := l.foreign
	if foreign && a.Kind == yaml.ScalarNode && a.Tag == "!!str" && strings.HasPrefix(a.Value, ":") {
		return Arg{Type: a.Value}, true
	}
	fields := l.mapping(a, "signature argument")
	if fields == nil {
		return Arg{}, false
	}
	for _, kv := range fields {
		switch kv.key {
		case "name":
			arg.Name = l.str(kv.valN, "argument name")
			if foreign {
				arg.Name = strings.TrimSpace(arg.Name)
			}
		case "type":
			arg.Type = strings.TrimSpace(l.str(kv.valN, "argument type"))
		default:
			l.errorf(kv.keyN, "signature argument: unknown key %s (known: name, type)", excerpt(kv.key))
		}
	}
	switch {
	case foreign && arg.Type == "":
		l.errorf(a, "signature argument needs a type")
		return arg, false
	case !foreign && (arg.Name == "" || arg.Type == ""):
		l.errorf(a, "signature argument needs a name and a type")
		return arg, false
	}
	return arg, true
}

func (l *loader) progTypes(n *yaml.Node) ProgTypes {
	if n.Kind == yaml.ScalarNode {
		if n.Value == "all" && n.Tag == "!!str" {
			return ProgTypes{All: true}
		}
		l.errorf(n, "prog_types: want the word all or a list of program types, found %s", excerpt(n.Value))
		return ProgTypes{}
	}
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, "prog_types: want the word all or a list, found %s", kindName(n))
		return ProgTypes{}
	}
	if len(n.Content) == 0 {
		l.errorf(n, "prog_types: empty list")
	}
	seen := map[string]bool{}
	for _, t := range n.Content {
		name := l.str(t, "prog_types item")
		if name == "" {
			continue
		}
		if _, ok := ProgTypeID(name); !ok {
			l.errorf(t, "prog_types: unknown program type %s", excerpt(name))
			continue
		}
		if seen[name] {
			l.errorf(t, "prog_types: %s listed twice", excerpt(name))
		}
		seen[name] = true
	}
	var types []string
	for _, name := range KnownProgTypes {
		if seen[name] {
			types = append(types, name)
		}
	}
	return ProgTypes{Types: types}
}

// readMap reads the mapping n into a map, each value by read, which reports whether it gave one
// (it has said why when not). strMap, versionMap and gapMap differ only in read.
func readMap[V any](l *loader, n *yaml.Node, what string, read func(kv field) (V, bool)) map[string]V {
	fields := l.mapping(n, what)
	if fields == nil {
		return nil
	}
	out := make(map[string]V, len(fields))
	for _, kv := range fields {
		if v, ok := read(kv); ok {
			out[kv.key] = v
		}
	}
	return out
}

// progTypeKey reports whether the key of kv, a key of the per-type mapping what, names a
// program type, and says so when it does not.
func (l *loader) progTypeKey(kv field, what string) bool {
	if _, ok := ProgTypeID(kv.key); !ok {
		l.errorf(kv.keyN, "%s: unknown program type %s", what, excerpt(kv.key))
		return false
	}
	return true
}

// versionMap reads prog_type_since or prog_type_until: program type -> release.
func (l *loader) versionMap(n *yaml.Node, what string) map[string]Version {
	return readMap(l, n, what, func(kv field) (Version, bool) {
		if !l.progTypeKey(kv, what) {
			return Version{}, false
		}
		return l.version(kv.valN, what+"."+kv.key), true
	})
}

// gapMap reads prog_type_gaps: program type -> list of "FROM..TO" series ranges.
func (l *loader) gapMap(n *yaml.Node, what string) map[string][]Gap {
	return readMap(l, n, what, func(kv field) ([]Gap, bool) {
		if !l.progTypeKey(kv, what) {
			return nil, false
		}
		gaps := l.gapList(kv.valN, what+"."+kv.key)
		return gaps, gaps != nil
	})
}

// gap reads one "FROM..TO" range of release series.
func (l *loader) gap(item *yaml.Node, what string) (Gap, bool) {
	s := l.str(item, what+" item")
	from, to, ok := strings.Cut(s, "..")
	if !ok {
		l.errorf(item, "%s: %s is not a \"FROM..TO\" range", what, excerpt(s))
		return Gap{}, false
	}
	fv, ferr := ParseVersion(from)
	tv, terr := ParseVersion(to)
	switch {
	case ferr != nil || terr != nil:
		l.errorf(item, "%s: %s: %s", what, excerpt(s), versionErr(s, errors.Join(ferr, terr)))
	case tv.Less(fv):
		l.errorf(item, "%s: %s ends before it starts", what, excerpt(s))
	default:
		return Gap{From: fv, To: tv}, true
	}
	return Gap{}, false
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

func (l *loader) strList(n *yaml.Node, what string, valid *regexp.Regexp) []string {
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, "%s: want a list, found %s", what, kindName(n))
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, item := range n.Content {
		s := l.str(item, what+" item")
		if s == "" {
			continue
		}
		if !valid.MatchString(s) {
			l.errorf(item, "%s: malformed value %s", what, excerpt(s))
		}
		if seen[s] {
			l.errorf(item, "%s: %s listed twice", what, excerpt(s))
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

func (l *loader) strMap(n *yaml.Node, what string) map[string]string {
	return readMap(l, n, what, func(kv field) (string, bool) { return l.str(kv.valN, what+"."+kv.key), true })
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "the value " + excerpt(n.Value)
	case yaml.AliasNode:
		return "an alias"
	default:
		return "nothing"
	}
}

// ExcerptLen is how many characters of a value an error message quotes (see Excerpt).
const ExcerptLen = 80

// excerpt quotes a value from the file for an error message: its first line, cut to ExcerptLen
// characters, with "..." after the closing quote when anything was left out. A whole file read
// as one scalar must not come back whole in the message.
func excerpt(s string) string {
	line, _, multi := strings.Cut(s, "\n")
	line = strings.TrimSuffix(line, "\r")
	cut := multi && strings.TrimSpace(s[len(line):]) != ""
	if utf8.RuneCountInString(line) > ExcerptLen {
		line, cut = string([]rune(line)[:ExcerptLen]), true
	}
	if cut {
		return strconv.Quote(line) + "..."
	}
	return strconv.Quote(line)
}

// versionErr renders err, an error of ParseVersion about s or part of s, as it is when s is short
// and otherwise as ErrBadVersion with an excerpt of s, so that a long value is not quoted whole.
func versionErr(s string, err error) string {
	if excerpt(s) == strconv.Quote(s) {
		return err.Error()
	}
	return ErrBadVersion.Error() + ": " + excerpt(s)
}
