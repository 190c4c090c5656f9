package foreign

import (
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

func TestEDNReaderValues(t *testing.T) {
	src := `; a comment
{:a-b 1, :c "x\"y\\z\n\u00e9" #_ :dropped #_ #_ :two :gone
 :set #{:xdp :sched-cls} :vec [nil true false -3 +4 7N 6.10 1e3]
 :list (def x) :ns/kw sym-bol}`
	forms, err := readEDN("t.edn", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(forms) != 1 || forms[0].kind != ednMap || forms[0].line != 2 {
		t.Fatalf("want one map on line 2, got %d forms", len(forms))
	}
	got := ednCanonical(forms[0])
	want := `{:a-b 1 :c "x\"y\\z\né" :list (def x) :ns/kw sym-bol :set #{:sched-cls :xdp} :vec [nil true false -3 4 7 6.10 1e3]}`
	if got != want {
		t.Errorf("read\n%s\nwant\n%s", got, want)
	}
	m := forms[0].items
	if m[len(m)-4].line != 4 {
		t.Errorf(":list is on line %d, want 4", m[len(m)-4].line)
	}
	vec := m[7]
	if vec.kind != ednVector || vec.items[6].kind != ednFloat || vec.items[3].kind != ednInt {
		t.Errorf("vector items: %+v", vec.items)
	}
}

func TestFaultEDNReader(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unclosed map", "{:a 1\n:b 2\n", "t.edn:1: a map opened here is never closed (want '}')"},
		{"wrong closer", "{:a [1 2}\n", "t.edn:1: '}' closes a vector opened on line 1, which wants ']'"},
		{"stray closer", "{:a 1}\n)", "t.edn:2: unexpected ')'"},
		{"odd map", "{:a 1\n :b}", "t.edn:2: map opened on line 1: key :b has no value"},
		{"duplicate key", "{:a 1\n :a 2}", "t.edn:2: a map opened on line 1: key :a is written twice (first on line 1)"},
		{"duplicate set element", "#{:xdp\n:xdp}", "t.edn:2: a set opened on line 1: element :xdp is written twice"},
		{"unclosed string", "{:a \"abc\n\n", "t.edn:1: string opened here is never closed"},
		{"bad escape", "{:a \"\\q\"}", "t.edn:1: unknown escape \\q"},
		{"tagged literal", "\n#inst \"2020\"", "t.edn:2: #inst: tagged literals and reader macros are not supported"},
		{"regex", "#\"a+\"", "t.edn:1: #: tagged literals"},
		{"character", "[\\a]", "t.edn:1: character literals"},
		{"auto keyword", "{::x 1}", `t.edn:1: "::x": auto-resolved keywords`},
		{"bad number", "[12abc]", `t.edn:1: malformed number "12abc"`},
		{"bad keyword", "[:]", `t.edn:1: malformed keyword ":"`},
		{"discard at end", "{:a 1} #_", "t.edn:1: the file ends where a value should follow"},
		{"deep nesting", strings.Repeat("[", 100), "nest deeper than 64 levels"},
		{"not UTF-8", "{:a\n \"\xff\"}", "t.edn:2: not UTF-8 text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readEDN("t.edn", []byte(tt.src))
			testenv.WantErr(t, err, tt.want)
		})
	}
}
