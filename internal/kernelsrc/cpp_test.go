package kernelsrc

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestBlankComments(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"line comment", "a // register_btf_kfunc_id_set(x)\nb", "a                                \nb"},
		{"block comment keeps newlines", "a /* x\ny */ b", "a     \n     b"},
		{"string contents", `f("BTF_ID_FLAGS(") g`, `f("             ") g`},
		{"escaped quote in string", `"a\"b" c`, `"    " c`},
		{"char literal", `'"' x`, `' ' x`},
		{"comment marker in string", `"/* no */" y`, `"        " y`},
		{"unclosed block comment", "a /* b", "a     "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := blankComments(tt.in); got != tt.want {
				t.Errorf("blankComments(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// guardsOf tokenizes src and returns "text@line:guard" for every code token.
func guardsOf(t *testing.T, src string) []string {
	t.Helper()
	toks, err := tokenize(src)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tk := range toks {
		if tk.def == nil && tk.undef == "" {
			out = append(out, fmt.Sprintf("%s@%d:%s", tk.text, tk.line, tk.guard))
		}
	}
	return out
}

func TestTokenizeGuards(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "ifdef and else",
			src:  "#ifdef CONFIG_A\na\n#else\nb\n#endif\nc\n",
			want: []string{"a@2:CONFIG_A", "b@4:!CONFIG_A", "c@6:"},
		},
		{
			name: "ifndef nested in if",
			src:  "#if IS_ENABLED(CONFIG_NET)\n#ifndef CONFIG_B\nx\n#endif\n#endif\n",
			want: []string{"x@3:IS_ENABLED(CONFIG_NET) && !CONFIG_B"},
		},
		{
			name: "elif negates the branches before",
			src:  "#if defined(CONFIG_A) || defined(CONFIG_B)\na\n#elif CONFIG_C\nc\n#else\nd\n#endif\n",
			want: []string{
				"a@2:(defined(CONFIG_A) || defined(CONFIG_B))",
				"c@4:!(defined(CONFIG_A) || defined(CONFIG_B)) && CONFIG_C",
				"d@6:!(defined(CONFIG_A) || defined(CONFIG_B)) && !CONFIG_C",
			},
		},
		{
			name: "directive continued over lines",
			src:  "#if defined(CONFIG_A) && \\\n    defined(CONFIG_B)\nx\n#endif\n",
			want: []string{"x@3:defined(CONFIG_A) && defined(CONFIG_B)"},
		},
		{
			name: "directive word in a comment is no directive",
			src:  "/*\n#ifdef CONFIG_A\n*/\nx\n",
			want: []string{"x@4:"},
		},
		{
			name: "tab after the hash",
			src:  "#\tifdef CONFIG_T\nx\n#\tendif\n",
			want: []string{"x@2:CONFIG_T"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := guardsOf(t, tt.src); !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestTokenizeErrors(t *testing.T) {
	for _, src := range []string{"#ifdef A\nx\n", "x\n#endif\n", "#else\n"} {
		if _, err := tokenize(src); err == nil {
			t.Errorf("tokenize(%q) succeeded, want an error", src)
		}
	}
}

func TestDefineToken(t *testing.T) {
	tests := []struct {
		line     string
		name     string
		function bool
		params   []string
		body     string
	}{
		{"#define X(_, __, name, ___) BTF_ID_FLAGS(func, name, KF_TRUSTED_ARGS)", "X", true, []string{"_", "__", "name", "___"}, "BTF_ID_FLAGS ( func , name , KF_TRUSTED_ARGS )"},
		{"#define LIST \\\n\tX(a, b, c, d)", "LIST", false, nil, "X ( a , b , c , d )"},
		{"# define SPACED (1 << 4)", "SPACED", false, nil, "( 1 < < 4 )"},
	}
	for _, tt := range tests {
		toks, err := tokenize(tt.line + "\n")
		if err != nil {
			t.Fatal(err)
		}
		if len(toks) != 1 || toks[0].def == nil {
			t.Fatalf("%q: tokens %+v, want one #define", tt.line, toks)
		}
		m := toks[0].def
		if m.name != tt.name || m.function != tt.function || !slices.Equal(m.params, tt.params) || strings.Join(m.body, " ") != tt.body {
			t.Errorf("%q: got %+v", tt.line, *m)
		}
	}
}
