package section

import (
	"errors"
	"strings"
	"testing"
)

// FuzzSection: Parse never panics; it returns either a *Error or a section that reads back the
// same, whose program type comes from the table and whose key parses to the same attach point.
func FuzzSection(f *testing.F) {
	for _, c := range cases {
		f.Add(c.name)
	}
	for _, s := range []string{"", "/", "fentry/", "struct_ops/a.b", "kprobe/x+0X1f", "cgroup/", "tp//", "fentry/m:", "\x00"} {
		f.Add(s)
	}
	types := map[string]bool{}
	for _, s := range Known() {
		types[s.ProgType] = true
	}
	f.Fuzz(func(t *testing.T, name string) {
		s, err := Parse(name)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Reason == "" {
				t.Fatalf("Parse(%q) = %v: not a *Error with a reason", name, err)
			}
			if len(err.Error()) > 2048 {
				t.Fatalf("Parse(%q): error of %d bytes", name, len(err.Error()))
			}
			return
		}
		if s.Name != name || !types[s.ProgType] || !strings.HasPrefix(name, s.Prefix) {
			t.Fatalf("Parse(%q) = %+v", name, s)
		}
		k, err := Parse(s.Key())
		if err != nil {
			t.Fatalf("Parse(%q).Key() = %q, which does not parse: %v", name, s.Key(), err)
		}
		if k.Key() != s.Key() || k.ProgType != s.ProgType || k.AttachType != s.AttachType || k.Sleepable != s.Sleepable {
			t.Fatalf("key %q of %q means %+v, the section %+v", s.Key(), name, k, s)
		}
	})
}
