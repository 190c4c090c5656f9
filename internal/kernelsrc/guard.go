package kernelsrc

import (
	"fmt"
	"strconv"
)

// Guard is the preprocessor condition a definition or a call is compiled under, in C syntax:
// the #if, #ifdef and #ifndef blocks around it joined with && (an #else branch contributes the
// negation of the conditions before it). "" means unconditional.
type Guard string

// Config tells the value of a build option in a kernel's config: "y", "m", or "" when the
// option is not set.
type Config func(option string) string

// Eval decides the guard for a kernel built with config. It knows the forms kernel code uses
// on build options: CONFIG_X and defined(CONFIG_X) (true when built in: a module's option
// defines CONFIG_X_MODULE instead), IS_ENABLED, IS_BUILTIN, IS_MODULE and IS_REACHABLE,
// integers, !, && and || with parentheses. Anything else (a macro that is no build option, a
// comparison) is an error: the caller decides what an undecidable guard means.
func (g Guard) Eval(config Config) (bool, error) {
	if g == "" {
		return true, nil
	}
	if config == nil {
		return false, fmt.Errorf("guard %q: no kernel config to decide it", string(g))
	}
	p := guardParser{toks: splitTokens(string(g)), config: config}
	v, err := p.or()
	if err == nil && p.pos < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	if err != nil {
		return false, fmt.Errorf("guard %q: %w", string(g), err)
	}
	return v, nil
}

// guardParser is a recursive-descent reader of a guard; splitTokens gives it one character
// per operator character, so "&&" arrives as two "&" tokens.
type guardParser struct {
	toks   []string
	pos    int
	config Config
}

func (p *guardParser) peek(s ...string) bool {
	for i, want := range s {
		if p.pos+i >= len(p.toks) || p.toks[p.pos+i] != want {
			return false
		}
	}
	return true
}

func (p *guardParser) or() (bool, error) {
	return p.binary("|", p.and, func(a, b bool) bool { return a || b })
}

func (p *guardParser) and() (bool, error) {
	return p.binary("&", p.unary, func(a, b bool) bool { return a && b })
}

// binary parses operand (op op operand)*, the shape of || and &&, folding the operands' values
// with combine. Every operand is parsed, so a malformed one is an error even after a decided
// value.
func (p *guardParser) binary(op string, operand func() (bool, error), combine func(a, b bool) bool) (bool, error) {
	v, err := operand()
	for err == nil && p.peek(op, op) {
		p.pos += 2
		var w bool
		w, err = operand()
		v = combine(v, w)
	}
	return v, err
}

func (p *guardParser) unary() (bool, error) {
	if p.pos >= len(p.toks) {
		return false, fmt.Errorf("ends early")
	}
	t := p.toks[p.pos]
	p.pos++
	switch {
	case t == "!":
		v, err := p.unary()
		return !v, err
	case t == "(":
		v, err := p.or()
		if err != nil {
			return false, err
		}
		if !p.peek(")") {
			return false, fmt.Errorf("missing )")
		}
		p.pos++
		return v, nil
	case isDigit(t[0]):
		n, err := strconv.ParseInt(t, 0, 64)
		if err != nil {
			return false, fmt.Errorf("number %q", t)
		}
		return n != 0, nil
	case t == "defined" || t == "IS_ENABLED" || t == "IS_BUILTIN" || t == "IS_MODULE" || t == "IS_REACHABLE":
		opt, err := p.option(t == "defined")
		if err != nil {
			return false, fmt.Errorf("%s: %w", t, err)
		}
		v := p.config(opt)
		switch t {
		case "defined", "IS_BUILTIN":
			return v == "y", nil
		case "IS_MODULE":
			return v == "m", nil
		}
		// IS_REACHABLE is IS_ENABLED for code built into vmlinux, which is what is read here.
		return v == "y" || v == "m", nil
	case isConfigOption(t):
		return p.config(t) == "y", nil
	}
	return false, fmt.Errorf("%q is no build option", t)
}

// option reads the CONFIG_ name after defined or IS_ENABLED: in parentheses, or for defined
// also bare.
func (p *guardParser) option(bareOK bool) (string, error) {
	if bareOK && p.pos < len(p.toks) && isConfigOption(p.toks[p.pos]) {
		p.pos++
		return p.toks[p.pos-1], nil
	}
	if !p.peek("(") || p.pos+2 >= len(p.toks) || p.toks[p.pos+2] != ")" || !isConfigOption(p.toks[p.pos+1]) {
		return "", fmt.Errorf("want (CONFIG_...)")
	}
	p.pos += 3
	return p.toks[p.pos-2], nil
}

func isConfigOption(s string) bool {
	return len(s) > len("CONFIG_") && s[:7] == "CONFIG_" && isIdent(s)
}
