package foreign

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// A small, strict reader of EDN, the data notation of Clojure, for helper tables that Clojure
// libraries keep in their own format. It reads what such a table holds: maps, vectors, lists,
// sets, keywords, symbols, strings, whole numbers, nil, true and false, with ; comments and #_
// discards. Anything else (tagged literals, characters, regular expressions, reader
// conditionals) is an error naming the line, because a guess would turn into a wrong answer.
// Decimal numbers are read, as numbers, only so that the loader can say that a version such as
// 6.10 must be a string.

// ednKind is the type of one EDN value.
type ednKind uint8

const (
	ednNil ednKind = iota
	ednBool
	ednInt
	ednFloat
	ednString
	ednKeyword
	ednSymbol
	ednList
	ednVector
	ednMap
	ednSet
)

var ednKindNames = [...]string{"nil", "a boolean", "a whole number", "a decimal number", "a string", "a keyword", "a symbol", "a list", "a vector", "a map", "a set"}

func (k ednKind) String() string { return ednKindNames[k] }

// ednNode is one EDN value and the line it starts on.
type ednNode struct {
	kind ednKind
	// text is a keyword's or symbol's name (without the colon), a string's contents, a number
	// as written (without a leading + or a trailing N or M), or "true"/"false".
	text string
	line int
	// items holds the elements of a list, vector or set, and a map's keys and values in turn.
	items []*ednNode
	// sum is the node's digest once computed (see digest).
	sum *[sha256.Size]byte
}

// written renders a scalar as it would be written in EDN, for messages.
func (n *ednNode) written() string {
	switch n.kind {
	case ednKeyword:
		return ":" + n.text
	case ednString:
		return registry.Excerpt(n.text)
	case ednList, ednVector, ednMap, ednSet:
		return n.kind.String()
	}
	return n.text
}

// ednReader reads EDN forms from src, tracking the line for messages.
type ednReader struct {
	file   string
	src    []byte
	pos    int
	line   int
	depth  int
	values int // values read so far, discarded ones included (see maxValues)
}

// readEDN reads every top-level form of data, the contents of file. The first problem ends the
// reading and is returned as a *LineError.
func readEDN(file string, data []byte) ([]*ednNode, error) {
	r := &ednReader{file: file, src: data, line: 1}
	if !utf8.Valid(data) {
		return nil, r.errorAt(r.invalidUTF8Line(), "not UTF-8 text")
	}
	var forms []*ednNode
	for {
		if err := r.skip(); err != nil {
			return nil, err
		}
		if r.pos >= len(r.src) {
			return forms, nil
		}
		n, err := r.form()
		if err != nil {
			return nil, err
		}
		forms = append(forms, n)
	}
}

func (r *ednReader) errorAt(line int, format string, args ...any) error {
	return &registry.LineError{File: r.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (r *ednReader) invalidUTF8Line() int {
	for off := 0; off < len(r.src); {
		c, size := utf8.DecodeRune(r.src[off:])
		if c == utf8.RuneError && size <= 1 {
			return 1 + strings.Count(string(r.src[:off]), "\n")
		}
		off += size
	}
	return 1
}

// skip passes over white space, commas, comments and #_ discards.
func (r *ednReader) skip() error {
	for r.pos < len(r.src) {
		c := r.src[r.pos]
		switch {
		case c == '\n':
			r.line++
			r.pos++
		case c == ' ' || c == '\t' || c == '\r' || c == ',' || c == '\f':
			r.pos++
		case c == ';' || c == '#' && r.peek(1) == '!':
			for r.pos < len(r.src) && r.src[r.pos] != '\n' {
				r.pos++
			}
		case c == '#' && r.peek(1) == '_':
			r.pos += 2
			if err := r.next(); err != nil {
				return err
			}
			if _, err := r.form(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

func (r *ednReader) peek(ahead int) byte {
	if r.pos+ahead < len(r.src) {
		return r.src[r.pos+ahead]
	}
	return 0
}

// form reads one value; skip has been called, and the input is not at its end.
func (r *ednReader) form() (*ednNode, error) {
	line := r.line
	if r.values++; r.values > maxValues {
		return nil, r.errorAt(line, "more than %d values: a helper table of 211 helpers has some 14,000", maxValues)
	}
	switch c := r.src[r.pos]; c {
	case '(':
		return r.collection(ednList, ')', 1)
	case '[':
		return r.collection(ednVector, ']', 1)
	case '{':
		return r.collection(ednMap, '}', 1)
	case ')', ']', '}':
		return nil, r.errorAt(line, "unexpected %q: nothing is open here", c)
	case '"':
		return r.str()
	case '\\':
		return nil, r.errorAt(line, "character literals (\\c) are not supported: write a string")
	case '\'', '^':
		// Quote and metadata belong to Clojure source around a table, as in
		// (def ^:private helpers '{...}); the data is what follows. Metadata is dropped.
		r.pos++
		if c == '^' {
			if err := r.next(); err != nil {
				return nil, err
			}
			if _, err := r.form(); err != nil {
				return nil, err
			}
		}
		if err := r.next(); err != nil {
			return nil, err
		}
		return r.form()
	case '#':
		if r.peek(1) == '{' {
			return r.collection(ednSet, '}', 2)
		}
		return nil, r.errorAt(line, "%s: tagged literals and reader macros are not supported", r.token(r.pos))
	}
	return r.atom()
}

// next skips to the next form and refuses the end of the input, where a form must follow.
func (r *ednReader) next() error {
	if err := r.skip(); err != nil {
		return err
	}
	if r.pos >= len(r.src) {
		return r.errorAt(r.line, "the file ends where a value should follow")
	}
	return nil
}

// collection reads a list, vector, map or set whose opening takes open bytes.
func (r *ednReader) collection(kind ednKind, closer byte, open int) (*ednNode, error) {
	n := &ednNode{kind: kind, line: r.line}
	if r.depth++; r.depth > maxDepth {
		return nil, r.errorAt(r.line, "collections nest deeper than %d levels", maxDepth)
	}
	defer func() { r.depth-- }()
	r.pos += open
	for {
		if err := r.skip(); err != nil {
			return nil, err
		}
		if r.pos >= len(r.src) {
			return nil, r.errorAt(n.line, "%s opened here is never closed (want %q)", kind, closer)
		}
		if c := r.src[r.pos]; c == closer {
			r.pos++
			break
		} else if c == ')' || c == ']' || c == '}' {
			return nil, r.errorAt(r.line, "%q closes %s opened on line %d, which wants %q", c, kind, n.line, closer)
		}
		item, err := r.form()
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, item)
	}
	return n, r.checkUnique(n)
}

// checkUnique refuses a map with a key written twice or a set with an element written twice:
// EDN does not allow them, and a table would silently keep one of the two.
func (r *ednReader) checkUnique(n *ednNode) error {
	step, what := 1, "element"
	switch n.kind {
	case ednMap:
		if len(n.items)%2 != 0 {
			last := n.items[len(n.items)-1]
			return r.errorAt(last.line, "map opened on line %d: key %s has no value", n.line, last.written())
		}
		step, what = 2, "key"
	case ednSet:
	default:
		return nil
	}
	seen := map[[sha256.Size]byte]*ednNode{}
	for i := 0; i < len(n.items); i += step {
		k := n.items[i]
		d := k.digest()
		if prev, dup := seen[d]; dup {
			return r.errorAt(k.line, "%s opened on line %d: %s %s is written twice (first on line %d)", n.kind, n.line, what, abbreviateEDN(ednCanonical(k)), prev.line)
		}
		seen[d] = k
	}
	return nil
}

// digest returns a digest that equal values share (the elements of sets and the pairs of maps in
// any order), for the duplicate checks. It is computed once per node from its children's, so
// that checking every map of a file costs time linear in its size: comparing rendered values
// instead rendered a key nested 60 maps deep 60 times, 82 GB for a 15 MB file.
func (n *ednNode) digest() [sha256.Size]byte {
	if n.sum != nil {
		return *n.sum
	}
	h := sha256.New()
	h.Write([]byte{byte(n.kind)})
	switch n.kind {
	case ednList, ednVector:
		for _, it := range n.items {
			d := it.digest()
			h.Write(d[:])
		}
	case ednSet, ednMap:
		step := 1
		if n.kind == ednMap {
			step = 2
		}
		parts := make([][sha256.Size]byte, 0, len(n.items)/step)
		for i := 0; i+step-1 < len(n.items); i += step {
			d := n.items[i].digest()
			if step == 2 {
				v := n.items[i+1].digest()
				d = sha256.Sum256(append(d[:], v[:]...))
			}
			parts = append(parts, d)
		}
		slices.SortFunc(parts, func(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) })
		for _, d := range parts {
			h.Write(d[:])
		}
	default:
		io.WriteString(h, n.text)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	n.sum = &sum
	return sum
}

// ednCanonical renders a value so that equal values render equally (sets and maps in sorted
// order), for messages about duplicates.
func ednCanonical(n *ednNode) string {
	switch n.kind {
	case ednString:
		return strconv.Quote(n.text)
	case ednKeyword:
		return ":" + n.text
	case ednList, ednVector, ednMap, ednSet:
		parts := make([]string, len(n.items))
		for i, it := range n.items {
			parts[i] = ednCanonical(it)
		}
		switch n.kind {
		case ednMap:
			pairs := make([]string, 0, len(parts)/2)
			for i := 0; i+1 < len(parts); i += 2 {
				pairs = append(pairs, parts[i]+" "+parts[i+1])
			}
			sort.Strings(pairs)
			return "{" + strings.Join(pairs, " ") + "}"
		case ednSet:
			sort.Strings(parts)
			return "#{" + strings.Join(parts, " ") + "}"
		case ednList:
			return "(" + strings.Join(parts, " ") + ")"
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return n.text
}

func abbreviateEDN(s string) string {
	if utf8.RuneCountInString(s) > registry.ExcerptLen {
		return string([]rune(s)[:registry.ExcerptLen]) + "..."
	}
	return s
}

// str reads a string literal with its escapes.
func (r *ednReader) str() (*ednNode, error) {
	n := &ednNode{kind: ednString, line: r.line}
	r.pos++ // the opening quote
	// A string without escapes, as nearly all are, is copied once, not grown byte by byte.
	if end := bytes.IndexAny(r.src[r.pos:], "\"\\"); end >= 0 && r.src[r.pos+end] == '"' {
		n.text = string(r.src[r.pos : r.pos+end])
		r.line += strings.Count(n.text, "\n")
		r.pos += end + 1
		return n, nil
	}
	var b strings.Builder
	for {
		if r.pos >= len(r.src) {
			return nil, r.errorAt(n.line, "string opened here is never closed")
		}
		c := r.src[r.pos]
		switch c {
		case '"':
			r.pos++
			n.text = b.String()
			return n, nil
		case '\n':
			r.line++
		case '\\':
			esc, err := r.escape()
			if err != nil {
				return nil, err
			}
			b.WriteString(esc)
			continue
		}
		b.WriteByte(c)
		r.pos++
	}
}

// escape reads one backslash escape of a string and returns what it stands for.
func (r *ednReader) escape() (string, error) {
	simple := map[byte]string{'"': `"`, '\\': `\`, 'n': "\n", 't': "\t", 'r': "\r", 'b': "\b", 'f': "\f"}
	c := r.peek(1)
	if s, ok := simple[c]; ok {
		r.pos += 2
		return s, nil
	}
	if c == 'u' && r.pos+6 <= len(r.src) {
		v, err := strconv.ParseUint(string(r.src[r.pos+2:r.pos+6]), 16, 16)
		if err == nil && !(v >= 0xd800 && v <= 0xdfff) {
			r.pos += 6
			return string(rune(v)), nil
		}
	}
	if c == 0 {
		return "", r.errorAt(r.line, "string ends in a lone backslash")
	}
	return "", r.errorAt(r.line, "unknown escape \\%s in a string (known: \\\" \\\\ \\n \\t \\r \\b \\f \\uXXXX)", r.token(r.pos+1))
}

// token returns the run of token characters at off, for messages.
func (r *ednReader) token(off int) string {
	end := off
	for end < len(r.src) && end-off < registry.ExcerptLen && !isEDNDelimiter(r.src[end]) {
		end++
	}
	if end == off && off < len(r.src) {
		_, size := utf8.DecodeRune(r.src[off:])
		end = off + size
	}
	return string(r.src[off:end])
}

func isEDNDelimiter(c byte) bool {
	return strings.IndexByte(" \t\r\n\f,()[]{}\";", c) >= 0
}

var (
	ednIntRE   = regexp.MustCompile(`^[+-]?(0|[1-9][0-9]*)N?$`)
	ednFloatRE = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?M?$`)
	// ednNameRE is what keywords and symbols may be made of: a name, optionally after a
	// namespace and a slash, that does not start with a digit.
	ednNameRE = regexp.MustCompile(`^([A-Za-z*+!_?<>=.-][A-Za-z0-9*+!_?<>=.'#-]*/)?[A-Za-z*+!_?<>=.-][A-Za-z0-9*+!_?<>=.'#:-]*$|^/$`)
)

// atom reads a keyword, symbol, number, nil, true or false.
func (r *ednReader) atom() (*ednNode, error) {
	line, start := r.line, r.pos
	for r.pos < len(r.src) && !isEDNDelimiter(r.src[r.pos]) {
		r.pos++
	}
	tok := string(r.src[start:r.pos])
	switch {
	case tok == "nil":
		return &ednNode{kind: ednNil, text: tok, line: line}, nil
	case tok == "true" || tok == "false":
		return &ednNode{kind: ednBool, text: tok, line: line}, nil
	case strings.HasPrefix(tok, "::"):
		return nil, r.errorAt(line, "%s: auto-resolved keywords need the namespace of Clojure source; write %s", registry.Excerpt(tok), registry.Excerpt(tok[1:]))
	case strings.HasPrefix(tok, ":"):
		if !ednNameRE.MatchString(tok[1:]) {
			return nil, r.errorAt(line, "malformed keyword %s", registry.Excerpt(tok))
		}
		return &ednNode{kind: ednKeyword, text: tok[1:], line: line}, nil
	case ednIntRE.MatchString(tok):
		return &ednNode{kind: ednInt, text: strings.TrimSuffix(strings.TrimPrefix(tok, "+"), "N"), line: line}, nil
	case ednFloatRE.MatchString(tok):
		return &ednNode{kind: ednFloat, text: strings.TrimSuffix(strings.TrimPrefix(tok, "+"), "M"), line: line}, nil
	case tok != "" && (tok[0] >= '0' && tok[0] <= '9' || len(tok) > 1 && (tok[0] == '+' || tok[0] == '-') && tok[1] >= '0' && tok[1] <= '9'):
		return nil, r.errorAt(line, "malformed number %s", registry.Excerpt(tok))
	case ednNameRE.MatchString(tok):
		return &ednNode{kind: ednSymbol, text: tok, line: line}, nil
	}
	return nil, r.errorAt(line, "%s is not EDN", registry.Excerpt(tok))
}
