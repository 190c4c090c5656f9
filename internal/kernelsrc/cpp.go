package kernelsrc

import (
	"fmt"
	"strings"
)

// token is one C token of a file whose comments and preprocessor directives were taken out.
type token struct {
	text  string
	line  int    // 1-based line of the token's first character
	guard string // the conditions of the #if blocks around it, as a Guard expression
	// A #define or #undef directive is kept as a token of text "#define" (def set) or
	// "#undef" (undef names the macro), so that the scanner knows which macros are in effect
	// where; the directives' conditions are not evaluated, so the later of two definitions
	// in #if branches wins.
	def   *macro
	undef string
}

// macro is a #define: an object-like macro (function false) or a function-like one with its
// parameter names, and the tokens of its body.
type macro struct {
	name     string
	function bool
	params   []string
	body     []string
	file     string
	line     int
}

// tokenize splits a C file into tokens, each with its line and the conditions of the #if,
// #ifdef and #ifndef blocks it sits in. String and character literals become one token each
// with their contents blanked, so that words inside them are never mistaken for code.
func tokenize(src string) ([]token, error) {
	lines := strings.Split(blankComments(src), "\n")
	var (
		toks  []token
		conds condStack
	)
	for i := 0; i < len(lines); i++ {
		first := i + 1
		if strings.HasPrefix(strings.TrimSpace(lines[i]), "#") {
			// A directive runs on while its lines end in a backslash.
			text := lines[i]
			for strings.HasSuffix(strings.TrimRight(text, " \t"), `\`) && i+1 < len(lines) {
				text = strings.TrimSuffix(strings.TrimRight(text, " \t"), `\`) + " " + lines[i+1]
				i++
			}
			guard := conds.guard()
			if err := conds.directive(text); err != nil {
				return nil, fmt.Errorf("line %d: %w", first, err)
			}
			if t, ok := defineToken(text); ok {
				t.line, t.guard = first, guard
				toks = append(toks, t)
			}
			continue
		}
		guard := conds.guard()
		line := strings.TrimSuffix(strings.TrimRight(lines[i], " \t"), `\`)
		for _, t := range splitTokens(line) {
			toks = append(toks, token{text: t, line: first, guard: guard})
		}
	}
	if len(conds) > 0 {
		return nil, fmt.Errorf("%d #if blocks not closed at the end of the file", len(conds))
	}
	return toks, nil
}

// blankComments replaces comments and the contents of string and character literals with
// spaces, keeping every newline so that line numbers stay right.
func blankComments(src string) string {
	b := []byte(src)
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '/':
			for ; i < len(b) && b[i] != '\n'; i++ {
				b[i] = ' '
			}
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '*':
			b[i], b[i+1] = ' ', ' '
			for i += 2; i < len(b) && !(b[i] == '*' && i+1 < len(b) && b[i+1] == '/'); i++ {
				if b[i] != '\n' {
					b[i] = ' '
				}
			}
			if i < len(b) {
				b[i], b[i+1] = ' ', ' '
				i++
			}
		case b[i] == '"' || b[i] == '\'':
			quote := b[i]
			for i++; i < len(b) && b[i] != quote && b[i] != '\n'; i++ {
				if b[i] == '\\' && i+1 < len(b) && b[i+1] != '\n' {
					b[i] = ' '
					i++
				}
				b[i] = ' '
			}
		}
	}
	return string(b)
}

// splitTokens cuts one line of code into identifiers, numbers, literals and single
// punctuation characters; the patterns this package looks for need nothing finer.
func splitTokens(line string) []string {
	var out []string
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case isIdentStart(c) || isDigit(c):
			j := i + 1
			for j < len(line) && (isIdentStart(line[j]) || isDigit(line[j]) || (isDigit(c) && line[j] == '.')) {
				j++
			}
			out = append(out, line[i:j])
			i = j
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(line) && line[j] != c {
				j++
			}
			if j < len(line) {
				j++
			}
			out = append(out, line[i:j])
			i = j
		default:
			out = append(out, line[i:i+1])
			i++
		}
	}
	return out
}

func isIdentStart(c byte) bool { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }

func isIdent(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentStart(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// condFrame is one open #if block: the conditions of its earlier branches, which the current
// branch holds only when all of them failed, and the current branch's own condition ("" in an
// #else).
type condFrame struct {
	earlier []string
	current string
}

type condStack []condFrame

// directive applies one preprocessor line to the stack; directives other than conditionals
// (#define, #include, ...) change nothing here.
func (s *condStack) directive(text string) error {
	body := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), "#"))
	name, rest, _ := strings.Cut(body, " ")
	if i := strings.IndexByte(name, '\t'); i >= 0 {
		name, rest = name[:i], name[i+1:]+" "+rest
	}
	rest = strings.Join(strings.Fields(rest), " ")
	switch name {
	case "if":
		*s = append(*s, condFrame{current: rest})
	case "ifdef":
		*s = append(*s, condFrame{current: firstWord(rest)})
	case "ifndef":
		*s = append(*s, condFrame{current: negate(firstWord(rest))})
	case "elif", "else", "endif":
		if len(*s) == 0 {
			return fmt.Errorf("#%s without #if", name)
		}
		top := &(*s)[len(*s)-1]
		switch name {
		case "elif":
			top.earlier, top.current = append(top.earlier, top.current), rest
		case "else":
			top.earlier, top.current = append(top.earlier, top.current), ""
		default:
			*s = (*s)[:len(*s)-1]
		}
	}
	return nil
}

// defineToken turns a #define or #undef line into its token.
func defineToken(text string) (token, bool) {
	body := strings.TrimLeft(strings.TrimSpace(text)[1:], " \t")
	switch {
	case strings.HasPrefix(body, "undef"):
		return token{text: "#undef", undef: firstWord(body[len("undef"):])}, true
	case !strings.HasPrefix(body, "define"):
		return token{}, false
	}
	rest := strings.TrimLeft(body[len("define"):], " \t")
	n := 0
	for n < len(rest) && (isIdentStart(rest[n]) || isDigit(rest[n])) {
		n++
	}
	if n == 0 {
		return token{}, false
	}
	m := &macro{name: rest[:n]}
	rest = rest[n:]
	// A parenthesis right after the name, with no space, makes a function-like macro.
	if strings.HasPrefix(rest, "(") {
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return token{}, false
		}
		m.function = true
		for _, p := range strings.Split(rest[1:end], ",") {
			if p = strings.TrimSpace(p); p != "" {
				m.params = append(m.params, p)
			}
		}
		rest = rest[end+1:]
	}
	m.body = splitTokens(rest)
	return token{text: "#define", def: m}, true
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// guard is the condition under which the code at the top of the stack is compiled.
func (s condStack) guard() string {
	var parts []string
	for _, f := range s {
		for _, e := range f.earlier {
			parts = append(parts, negate(e))
		}
		if f.current != "" {
			parts = append(parts, f.current)
		}
	}
	return conjoin(parts)
}

// negate writes the negation of a condition, without parentheses where none are needed.
func negate(c string) string {
	switch {
	case isIdent(c):
		return "!" + c
	case strings.HasPrefix(c, "!") && isIdent(c[1:]):
		return c[1:]
	}
	return "!(" + c + ")"
}

// conjoin joins conditions with &&, parenthesizing those whose own operators bind looser.
func conjoin(parts []string) string {
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if bindsLooser(p) {
			p = "(" + p + ")"
		}
		out = append(out, p)
	}
	return strings.Join(out, " && ")
}

// bindsLooser reports whether c has an operator outside parentheses that binds looser than
// && (|| or ?:).
func bindsLooser(c string) bool {
	depth := 0
	for i := 0; i < len(c); i++ {
		switch c[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '?':
			if depth == 0 {
				return true
			}
		case '|':
			if depth == 0 && i+1 < len(c) && c[i+1] == '|' {
				return true
			}
		}
	}
	return false
}
