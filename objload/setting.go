package objload

import (
	"fmt"
	"strconv"
	"strings"
)

// Setting keys: what a --set word may change.
const (
	// KeyTarget retargets a program: its attach target (a kernel function, an event) becomes
	// Value.
	KeyTarget = "target"
	// KeyMaxEntries sizes a map: its max_entries becomes MaxEntries.
	KeyMaxEntries = "max_entries"
)

// Setting is one --set word: what a loader would set at run time, given by the user in place of
// the run-time default. Its syntax, owned here, is `[OBJECT:]PROG.target=FUNC` or
// `[OBJECT:]MAP.max_entries=N`.
type Setting struct {
	// Object limits the setting to the object of that name (its file name as the user gave
	// it); "" applies it to every object that has Name.
	Object string
	// Name is the program (KeyTarget) or map (KeyMaxEntries) the setting is about.
	Name string
	// Key is KeyTarget or KeyMaxEntries.
	Key string
	// Value is the word after "=": the new target, or the size in decimal.
	Value string
	// MaxEntries is Value read as a size (KeyMaxEntries only).
	MaxEntries uint32
}

// String returns the setting as ParseSetting reads it.
func (s Setting) String() string {
	w := s.Name + "." + s.Key + "=" + s.Value
	if s.Object != "" {
		w = s.Object + ":" + w
	}
	return w
}

// appliesTo reports whether the setting is about the object called object.
func (s Setting) appliesTo(object string) bool {
	return s.Object == "" || s.Object == object
}

// ParseSetting reads one --set word. Errors say what is wrong with it and how it should look.
func ParseSetting(word string) (Setting, error) {
	fail := func(format string, a ...any) (Setting, error) {
		return Setting{}, fmt.Errorf("--set %q: %s (want [OBJECT:]PROG.target=FUNC or [OBJECT:]MAP.max_entries=N)", word, fmt.Sprintf(format, a...))
	}
	lhs, value, ok := strings.Cut(word, "=")
	if !ok {
		return fail("no '='")
	}
	var s Setting
	if i := strings.LastIndexByte(lhs, ':'); i >= 0 {
		s.Object, lhs = lhs[:i], lhs[i+1:]
		if s.Object == "" || strings.ContainsAny(s.Object, "/\x00") {
			return fail("the object before ':' must be a file name")
		}
	}
	dot := strings.LastIndexByte(lhs, '.')
	if dot < 0 {
		return fail("no '.' between the name and the key")
	}
	s.Name, s.Key, s.Value = lhs[:dot], lhs[dot+1:], value
	if !identifier(s.Name) {
		return fail("%q is not a program or map name", s.Name)
	}
	switch s.Key {
	case KeyTarget:
		if !target(value) {
			return fail("%q is not a function or event name", value)
		}
	case KeyMaxEntries:
		n, err := strconv.ParseUint(value, 10, 32)
		if err != nil || n == 0 {
			return fail("max_entries %q is not a number from 1 to %d", value, uint32(1<<32-1))
		}
		s.MaxEntries = uint32(n)
	default:
		return fail("unknown key %q", s.Key)
	}
	return s, nil
}

// identifier reports whether s is a C identifier, as program and map names are.
func identifier(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for i, c := range s {
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// target reports whether s can name an attach target: a function or event, a module's
// ("MODULE:FUNC"), a tracepoint ("CATEGORY/NAME") or a symbol with a '.' suffix
// ("func.isra.0").
func target(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '/' || r == '.' }) {
		if !identifier(part) && strings.Trim(part, "0123456789") != "" {
			return false
		}
	}
	return !strings.HasPrefix(s, ":") && !strings.HasSuffix(s, ":") && !strings.Contains(s, "::") &&
		!strings.HasPrefix(s, "/") && !strings.HasSuffix(s, "/") && !strings.Contains(s, "//") &&
		!strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".") && !strings.Contains(s, "..")
}
