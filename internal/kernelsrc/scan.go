package kernelsrc

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// fileFacts is what one file contributes to a Source.
type fileFacts struct {
	sets   []Set
	idSets []IDSet
	regs   []Registration
	hooks  []Hook
	deflt  string // the switch's default hook, when the file defines it
	// plainSets are the BTF_SET8 sets that are no kfunc sets (fmod_ret lists); the id sets
	// that wrap them go to register_btf_fmodret_id_set, not to program types.
	plainSets []string
}

var progTypePattern = regexp.MustCompile(`^BPF_PROG_TYPE_[A-Z0-9_]+$`)

// scanFile finds the kfunc sets, id sets, registrations and the hook switch in one file's
// tokens. A form it recognizes by its first words but cannot read in full is an error, so
// that a kernel that writes them differently is noticed instead of half read.
func scanFile(file string, toks []token, header func(string) (*macro, error)) (fileFacts, error) {
	s := scanner{file: file, toks: toks, macros: map[string]*macro{}, header: header}
	for s.pos < len(s.toks) {
		if err := s.step(); err != nil {
			return fileFacts{}, fmt.Errorf("%s:%d: %w", file, s.toks[min(s.pos, len(s.toks)-1)].line, err)
		}
	}
	if s.open != nil {
		return fileFacts{}, fmt.Errorf("%s:%d: set %s has no end", file, s.open.Line, s.open.Name)
	}
	return s.out, nil
}

type scanner struct {
	file string
	toks []token
	pos  int
	out  fileFacts
	// open is the kfunc set being read; openOther is set while a BTF_SET8 set that is no kfunc
	// set (an fmod_ret list) is open, whose entries are skipped.
	open      *Set
	openOther string
	// macros are the file's #defines in effect at s.pos; header finds those of the tree's
	// headers. Macros are expanded only where a kfunc set holds something other than
	// BTF_ID_FLAGS lines (net/core/xdp.c builds its set from a list macro of net/xdp.h).
	macros     map[string]*macro
	header     func(name string) (*macro, error)
	expansions int
}

func (s *scanner) is(off int, text string) bool {
	return s.pos+off < len(s.toks) && s.toks[s.pos+off].text == text
}

func (s *scanner) step() error {
	t := s.toks[s.pos]
	switch {
	case t.def != nil:
		s.macros[t.def.name] = t.def
		s.pos++
	case t.undef != "":
		delete(s.macros, t.undef)
		s.pos++
	case s.open != nil && t.text != "BTF_ID_FLAGS" && t.text != "BTF_KFUNCS_END" && t.text != "BTF_KFUNCS_START":
		return s.expand()
	case t.text == "BTF_KFUNCS_START" && s.is(1, "("), t.text == "BTF_SET8_START" && s.is(1, "("):
		name, err := s.oneIdent()
		if err != nil {
			return err
		}
		if s.open != nil || s.openOther != "" {
			return fmt.Errorf("%s(%s) inside another set", t.text, name)
		}
		if t.text == "BTF_SET8_START" {
			s.openOther = name
			s.out.plainSets = append(s.out.plainSets, name)
		} else {
			s.open = &Set{Name: name, File: s.file, Line: t.line}
		}
	case t.text == "BTF_KFUNCS_END" && s.is(1, "("), t.text == "BTF_SET8_END" && s.is(1, "("):
		name, err := s.oneIdent()
		if err != nil {
			return err
		}
		switch {
		case t.text == "BTF_SET8_END" && s.openOther == name:
			s.openOther = ""
		case t.text == "BTF_KFUNCS_END" && s.open != nil && s.open.Name == name:
			s.out.sets = append(s.out.sets, *s.open)
			s.open = nil
		default:
			return fmt.Errorf("%s(%s) closes no open set", t.text, name)
		}
	case t.text == "BTF_ID_FLAGS" && s.is(1, "("):
		return s.entry(t)
	case t.text == "struct" && s.is(1, "btf_kfunc_id_set") && s.pos+2 < len(s.toks) && isIdent(s.toks[s.pos+2].text):
		return s.idSet()
	case t.text == "register_btf_kfunc_id_set" && s.is(1, "("):
		return s.registration(t)
	case t.text == "bpf_prog_type_to_kfunc_hook" && s.is(1, "("):
		return s.hookSwitch()
	default:
		s.pos++
	}
	return nil
}

// args reads the parenthesized list starting at s.pos (which holds "(") and returns its
// arguments split at top-level commas, each as its tokens joined by single spaces; s.pos ends
// after the closing parenthesis.
func (s *scanner) args() ([]string, error) {
	lists, err := s.argTokens()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(lists))
	for i, l := range lists {
		texts := make([]string, len(l))
		for j, t := range l {
			texts[j] = t.text
		}
		out[i] = strings.Join(texts, " ")
	}
	return out, nil
}

// argTokens is args with each argument's tokens. Directive tokens inside the list are
// dropped.
func (s *scanner) argTokens() ([][]token, error) {
	depth := 0
	var out [][]token
	var cur []token
	for ; s.pos < len(s.toks); s.pos++ {
		t := s.toks[s.pos]
		switch {
		case t.def != nil || t.undef != "":
			continue
		case t.text == "(" || t.text == "[" || t.text == "{":
			depth++
			if depth == 1 {
				continue
			}
		case t.text == ")" || t.text == "]" || t.text == "}":
			depth--
			if depth == 0 {
				s.pos++
				if len(cur) > 0 || len(out) > 0 {
					out = append(out, cur)
				}
				return out, nil
			}
		case t.text == "," && depth == 1:
			out = append(out, cur)
			cur = nil
			continue
		}
		cur = append(cur, t)
	}
	return nil, fmt.Errorf("parenthesis not closed")
}

// oneIdent reads NAME(IDENT) from the macro name at s.pos.
func (s *scanner) oneIdent() (string, error) {
	macro := s.toks[s.pos].text
	s.pos++
	a, err := s.args()
	if err != nil {
		return "", fmt.Errorf("%s: %w", macro, err)
	}
	if len(a) != 1 || !isIdent(a[0]) {
		return "", fmt.Errorf("%s(%s): want one name", macro, strings.Join(a, ", "))
	}
	return a[0], nil
}

// entry reads BTF_ID_FLAGS(func, name, FLAG | FLAG ...).
func (s *scanner) entry(t token) error {
	s.pos++
	a, err := s.args()
	if err != nil {
		return fmt.Errorf("BTF_ID_FLAGS: %w", err)
	}
	if s.openOther != "" {
		return nil
	}
	if s.open == nil {
		return fmt.Errorf("BTF_ID_FLAGS(%s) outside a set", strings.Join(a, ", "))
	}
	if len(a) < 2 || len(a) > 3 || a[0] != "func" || !isIdent(a[1]) {
		return fmt.Errorf("BTF_ID_FLAGS(%s): want (func, name[, flags])", strings.Join(a, ", "))
	}
	e := Entry{Name: a[1], Guard: Guard(t.guard), Line: t.line}
	if len(a) == 3 {
		for _, f := range strings.Split(a[2], "|") {
			f = strings.TrimSpace(f)
			if !isIdent(f) {
				return fmt.Errorf("BTF_ID_FLAGS(func, %s, %s): flag %q is no name", a[1], a[2], f)
			}
			e.Flags = append(e.Flags, f)
		}
	}
	s.open.Kfuncs = append(s.open.Kfuncs, e)
	return nil
}

// idSet reads "struct btf_kfunc_id_set NAME = { .field = value, ... }". A declaration without
// an initializer (a parameter, a pointer) is passed over.
func (s *scanner) idSet() error {
	t := s.toks[s.pos]
	name := s.toks[s.pos+2].text
	s.pos += 3
	if s.is(0, "[") {
		return fmt.Errorf("struct btf_kfunc_id_set %s[]: arrays of id sets are not read", name)
	}
	if !s.is(0, "=") {
		return nil
	}
	if !s.is(1, "{") {
		return fmt.Errorf("struct btf_kfunc_id_set %s: want an initializer in braces", name)
	}
	s.pos++
	fields, err := s.args()
	if err != nil {
		return fmt.Errorf("struct btf_kfunc_id_set %s: %w", name, err)
	}
	d := IDSet{Name: name, File: s.file, Line: t.line, Guard: Guard(t.guard)}
	for _, f := range fields {
		if f == "" {
			continue // a trailing comma
		}
		field, value, ok := strings.Cut(f, "=")
		field, value = strings.TrimSpace(field), strings.TrimSpace(value)
		if !ok || !strings.HasPrefix(field, ". ") {
			return fmt.Errorf("struct btf_kfunc_id_set %s: field %q is not .name = value", name, f)
		}
		switch field {
		case ". owner":
			d.Owner = value
		case ". set":
			set, ok := strings.CutPrefix(value, "& ")
			if !ok || !isIdent(set) {
				return fmt.Errorf("struct btf_kfunc_id_set %s: .set = %s, want &name", name, value)
			}
			d.Set = set
		case ". filter":
			if !isIdent(value) {
				return fmt.Errorf("struct btf_kfunc_id_set %s: .filter = %s, want a function name", name, value)
			}
			if value != "NULL" {
				d.Filter = value
			}
		default:
			return fmt.Errorf("struct btf_kfunc_id_set %s: unknown field %s", name, strings.TrimPrefix(field, ". "))
		}
	}
	if d.Set == "" {
		return fmt.Errorf("struct btf_kfunc_id_set %s: no .set", name)
	}
	s.out.idSets = append(s.out.idSets, d)
	return nil
}

// registration reads register_btf_kfunc_id_set(BPF_PROG_TYPE_X, &set). The function's own
// declaration and definition (whose first argument is "enum bpf_prog_type prog_type") are
// passed over; any other argument is an error, since a program type computed at run time
// cannot be read from the text.
func (s *scanner) registration(t token) error {
	s.pos++
	a, err := s.args()
	if err != nil {
		return fmt.Errorf("register_btf_kfunc_id_set: %w", err)
	}
	if len(a) == 2 && strings.HasPrefix(a[0], "enum ") {
		return nil
	}
	if len(a) != 2 || !progTypePattern.MatchString(a[0]) {
		return fmt.Errorf("register_btf_kfunc_id_set(%s): want (BPF_PROG_TYPE_..., &set)", strings.Join(a, ", "))
	}
	set, ok := strings.CutPrefix(a[1], "& ")
	if !ok || !isIdent(set) {
		return fmt.Errorf("register_btf_kfunc_id_set(%s, %s): want &name", a[0], a[1])
	}
	s.out.regs = append(s.out.regs, Registration{ProgType: a[0], IDSet: set, File: s.file, Line: t.line, Guard: Guard(t.guard)})
	return nil
}

// hookSwitch reads the body of bpf_prog_type_to_kfunc_hook: a switch of "case TYPE:" labels,
// each run of them ending in "return HOOK;", and a default. A call of the function, as
// opposed to its definition, is passed over.
func (s *scanner) hookSwitch() error {
	s.pos++
	if _, err := s.args(); err != nil {
		return fmt.Errorf("bpf_prog_type_to_kfunc_hook: %w", err)
	}
	if !s.is(0, "{") {
		return nil
	}
	if !s.is(1, "switch") {
		return fmt.Errorf("bpf_prog_type_to_kfunc_hook: the body is no switch")
	}
	var pending []string
	depth := 0
	for ; s.pos < len(s.toks); s.pos++ {
		t := s.toks[s.pos].text
		switch {
		case t == "{":
			depth++
		case t == "}":
			depth--
			if depth == 0 {
				s.pos++
				if len(pending) > 0 {
					return fmt.Errorf("bpf_prog_type_to_kfunc_hook: %s without a return", strings.Join(pending, ", "))
				}
				if len(s.out.hooks) == 0 {
					return fmt.Errorf("bpf_prog_type_to_kfunc_hook: no cases")
				}
				return nil
			}
		case t == "case" && s.pos+2 < len(s.toks) && s.toks[s.pos+2].text == ":":
			pending = append(pending, s.toks[s.pos+1].text)
			s.pos += 2
		case t == "default" && s.is(1, ":"):
			pending = append(pending, "default")
			s.pos++
		case t == "return" && s.pos+2 < len(s.toks) && s.toks[s.pos+2].text == ";":
			hook := s.toks[s.pos+1].text
			for _, p := range pending {
				if p == "default" {
					s.out.deflt = hook
				} else {
					s.out.hooks = append(s.out.hooks, Hook{ProgType: p, Hook: hook})
				}
			}
			pending = nil
			s.pos += 2
		case t == "switch" || t == "(" || t == ")" || t == "prog_type":
		default:
			return fmt.Errorf("bpf_prog_type_to_kfunc_hook: unexpected %q in the switch", t)
		}
	}
	return fmt.Errorf("bpf_prog_type_to_kfunc_hook: body not closed")
}

// maxExpansions bounds the macro expansions in one file, so that a macro whose expansion
// starts with itself is an error rather than a loop.
const maxExpansions = 1000

// expand replaces the macro invocation at s.pos, inside a kfunc set, by its expansion, which
// the scanner then reads like any other tokens. The expansion's tokens take the invocation's
// line and guard. Stringizing and token pasting are not done: a body that needs them is an
// error, as is a word in a set that is no macro.
func (s *scanner) expand() error {
	start := s.pos
	at := s.toks[start]
	m := s.macros[at.text]
	if m == nil && isIdent(at.text) && s.header != nil {
		var err error
		if m, err = s.header(at.text); err != nil {
			return fmt.Errorf("set %s: %w", s.open.Name, err)
		}
	}
	if m == nil {
		return fmt.Errorf("set %s: %q is neither BTF_ID_FLAGS nor a macro", s.open.Name, at.text)
	}
	if s.expansions++; s.expansions > maxExpansions {
		return fmt.Errorf("set %s: more than %d macro expansions", s.open.Name, maxExpansions)
	}
	s.pos++
	var args [][]token
	if m.function {
		if !s.is(0, "(") {
			return fmt.Errorf("set %s: function-like macro %s without arguments", s.open.Name, m.name)
		}
		var err error
		if args, err = s.argTokens(); err != nil {
			return fmt.Errorf("set %s: %s: %w", s.open.Name, m.name, err)
		}
		if len(args) != len(m.params) {
			return fmt.Errorf("set %s: %s takes %d arguments, given %d", s.open.Name, m.name, len(m.params), len(args))
		}
	}
	var out []token
	for _, b := range m.body {
		if b == "#" || b == "__VA_ARGS__" {
			return fmt.Errorf("set %s: macro %s stringizes, pastes or is variadic, which is not expanded here", s.open.Name, m.name)
		}
		if i := slices.Index(m.params, b); i >= 0 {
			for _, a := range args[i] {
				out = append(out, token{text: a.text, line: at.line, guard: at.guard})
			}
			continue
		}
		out = append(out, token{text: b, line: at.line, guard: at.guard})
	}
	rest := s.toks[s.pos:]
	s.toks = append(append(append([]token{}, s.toks[:start]...), out...), rest...)
	s.pos = start
	return nil
}
