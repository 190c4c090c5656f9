package yamledit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// TestUpdateHelpersUnchanged: the real registry, given back its own entries, comes back byte
// for byte.
func TestUpdateHelpersUnchanged(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "helpers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Parse("helpers.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, updated := range [][]*registry.Helper{nil, reg.Helpers()} {
		out, err := UpdateHelpers("helpers.yaml", data, updated)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != string(data) {
			t.Errorf("%d entries given back unchanged: the file changed", len(updated))
		}
	}
}

const writeBase = `# head comment
- id: 1
  name: one
  signature: {return: long, args: []}
  min_kernel: "5.8"   # from bcc
  prog_types: [kprobe, xdp]
  prog_type_since:
    # xdp came later
    xdp: "6.1"
  gpl_only: false
  category: trace
  description: One.
  sources:
    min_kernel: bcc
# between entries
- id: 2
  name: two
  signature: {return: long, args: []}
  min_kernel: "5.10"
  prog_types:
    - kprobe
    - xdp
  prog_type_until: {xdp: "6.12"}
  gpl_only: false
  category: trace
  description: Two.
  sources:
    matrix: "an earlier run"
    min_kernel: bcc
`

// TestUpdateHelpersEdits: each edit changes the lines of its key and nothing else.
func TestUpdateHelpersEdits(t *testing.T) {
	cases := []struct {
		name string
		id   int
		edit func(h *registry.Helper)
		// from and to are the replacements that turn writeBase into the expected file.
		from, to []string
	}{
		{
			name: "min_kernel, keeping its comment",
			id:   1, edit: func(h *registry.Helper) { h.MinKernel = registry.MustParseVersion("6.1") },
			from: []string{`  min_kernel: "5.8"   # from bcc`}, to: []string{`  min_kernel: "6.1" # from bcc`},
		},
		{
			name: "a per-type release, keeping the comment above it",
			id:   1, edit: func(h *registry.Helper) { h.ProgTypeSince["xdp"] = registry.MustParseVersion("6.12") },
			from: []string{`    xdp: "6.1"`}, to: []string{`    xdp: "6.12"`},
		},
		{
			name: "a per-type release added in program type order",
			id:   1, edit: func(h *registry.Helper) { h.ProgTypeSince["kprobe"] = registry.MustParseVersion("6.1") },
			from: []string{"    # xdp came later\n"}, to: []string{"    kprobe: \"6.1\"\n    # xdp came later\n"},
		},
		{
			name: "the last per-type release removed takes its key",
			id:   1, edit: func(h *registry.Helper) { delete(h.ProgTypeSince, "xdp") },
			from: []string{"  prog_type_since:\n    # xdp came later\n    xdp: \"6.1\"\n"}, to: []string{""},
		},
		{
			name: "new keys after the ones before them, in registry order",
			id:   1, edit: func(h *registry.Helper) {
				h.ProgTypeGaps = map[string][]registry.Gap{"xdp": {{From: registry.MustParseVersion("6.12"), To: registry.MustParseVersion("7.0")}}}
				h.ProgTypeUntil = map[string]registry.Version{"xdp": registry.MustParseVersion("7.2")}
			},
			from: []string{"    xdp: \"6.1\"\n"},
			to:   []string{"    xdp: \"6.1\"\n  prog_type_until:\n    xdp: \"7.2\"\n  prog_type_gaps:\n    xdp: [\"6.12..7.0\"]\n"},
		},
		{
			name: "a flow mapping stays one line",
			id:   2, edit: func(h *registry.Helper) { h.ProgTypeUntil["kprobe"] = registry.MustParseVersion("7.0") },
			from: []string{`  prog_type_until: {xdp: "6.12"}`}, to: []string{`  prog_type_until: {kprobe: "7.0", xdp: "6.12"}`},
		},
		{
			name: "a block list stays a block list, and a new key goes before the next",
			id:   2, edit: func(h *registry.Helper) {
				h.ProgTypes = registry.NewProgTypes([]string{"kprobe", "xdp", "lsm"})
				h.ProgTypeSince = map[string]registry.Version{"lsm": registry.MustParseVersion("6.12")}
			},
			from: []string{"    - xdp\n"}, to: []string{"    - xdp\n    - lsm\n  prog_type_since:\n    lsm: \"6.12\"\n"},
		},
		{
			name: "a program type removed with its facts",
			id:   1, edit: func(h *registry.Helper) {
				h.ProgTypes = registry.NewProgTypes([]string{"kprobe"})
				h.ProgTypeSince = nil
			},
			from: []string{"[kprobe, xdp]", "  prog_type_since:\n    # xdp came later\n    xdp: \"6.1\"\n"}, to: []string{"[kprobe]", ""},
		},
		{
			name: "a matrix source goes first; another one is replaced in place",
			id:   1, edit: func(h *registry.Helper) { h.Sources["matrix"] = "helpers sync" },
			from: []string{"  sources:\n    min_kernel: bcc\n# between"}, to: []string{"  sources:\n    matrix: \"helpers sync\"\n    min_kernel: bcc\n# between"},
		},
		{
			name: "a source replaced in place",
			id:   2, edit: func(h *registry.Helper) { h.Sources["matrix"] = "an earlier run; then this one" },
			from: []string{`    matrix: "an earlier run"`}, to: []string{`    matrix: "an earlier run; then this one"`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg, err := registry.Parse("helpers.yaml", []byte(writeBase))
			if err != nil {
				t.Fatal(err)
			}
			orig, _ := reg.ByID(c.id)
			h := *orig
			h.ProgTypeSince, h.ProgTypeUntil, h.Sources = copyMap(orig.ProgTypeSince), copyMap(orig.ProgTypeUntil), copyMap(orig.Sources)
			c.edit(&h)
			out, err := UpdateHelpers("helpers.yaml", []byte(writeBase), []*registry.Helper{&h})
			if err != nil {
				t.Fatal(err)
			}
			want := writeBase
			for i := range c.from {
				if !strings.Contains(want, c.from[i]) {
					t.Fatalf("%q is not in the base file", c.from[i])
				}
				want = strings.Replace(want, c.from[i], c.to[i], 1)
			}
			if string(out) != want {
				t.Errorf("got:\n%s\nwant:\n%s", out, want)
			}
		})
	}
}

func copyMap[V any](m map[string]V) map[string]V {
	out := map[string]V{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestUpdateHelpersRefuses: an id the file lacks, and an edit the loader would refuse, are
// errors, not a damaged file.
func TestUpdateHelpersRefuses(t *testing.T) {
	reg, err := registry.Parse("helpers.yaml", []byte(writeBase))
	if err != nil {
		t.Fatal(err)
	}
	one, _ := reg.ByID(1)
	stranger := *one
	stranger.ID = 3
	before := *one
	before.ProgTypeSince = map[string]registry.Version{"xdp": registry.MustParseVersion("4.1")} // older than min_kernel
	for name, h := range map[string]*registry.Helper{"an id the file lacks": &stranger, "an entry that does not load": &before} {
		if out, err := UpdateHelpers("helpers.yaml", []byte(writeBase), []*registry.Helper{h}); err == nil {
			t.Errorf("%s: no error; wrote\n%s", name, out)
		}
	}
}
