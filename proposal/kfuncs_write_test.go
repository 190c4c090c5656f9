package proposal

import (
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// syncedFile is a kfunc file as people keep it: a head comment, comments above and beside
// entries, their own categories and descriptions. bpf_a's first release is wrong (the kernels
// of matrix() have it from 6.12), bpf_b is missing, bpf_zzz is seen by no kernel.
const syncedFile = `# our kfuncs, kept by hand and by sync

# bpf_a: the one we care about
- name: bpf_a
  prototype: "int bpf_a(void)"
  min_kernel: "6.13" # a guess
  prog_types: [xdp, tracing]
  prog_type_since: {tracing: "7.0"}
  prog_type_gaps: {tracing: ["7.1..7.1"]}
  category: task
  description: "Does A."

# nobody has this one any more
- name: bpf_zzz
  prototype: "int bpf_zzz(void)" # kept as written
  min_kernel: "6.12"
  prog_types: [xdp]
  category: misc
  notes: "Kept for old kernels."
`

// TestEditKfuncs: sync edits the file in place: the changed entry is written again with what
// people wrote in it, the added one goes in name order, and every other line stays; a second
// edit with nothing to change leaves the file as it is.
func TestEditKfuncs(t *testing.T) {
	ks := matrix()
	for _, tc := range []struct {
		name   string
		indent string
	}{{"entries at the margin", ""}, {"indented entries", "  "}} {
		t.Run(tc.name, func(t *testing.T) {
			out := syncKfuncFile(t, []byte(indentEntries(syncedFile, tc.indent)), ks)
			got := string(out)
			for _, keep := range []string{"# our kfuncs, kept by hand and by sync\n\n# bpf_a: the one we care about\n",
				tc.indent + "  description: \"Does A.\"\n", "# nobody has this one any more\n",
				indentEntries(syncedFile[strings.Index(syncedFile, "- name: bpf_zzz"):], tc.indent)} {
				if !strings.Contains(got, keep) {
					t.Errorf("edited file lost %q:\n%s", keep, got)
				}
			}
			if strings.Contains(got, "# a guess") || !strings.Contains(got, tc.indent+"  min_kernel: \"6.12\"\n") {
				t.Errorf("bpf_a not written again with its release:\n%s", got)
			}
			if a, b, z := strings.Index(got, "name: bpf_a"), strings.Index(got, "name: bpf_b"), strings.Index(got, "# nobody"); !(a < b && b < z) {
				t.Errorf("bpf_b not added between bpf_a and bpf_zzz's comment:\n%s", got)
			}
			if out2 := syncKfuncFile(t, out, ks); string(out2) != got {
				t.Errorf("second edit changed the file:\n%s", out2)
			}
		})
	}
}

// syncKfuncFile is kfuncs sync --write on the kfunc file file: the proposal for the kernels ks
// edited into it.
func syncKfuncFile(t *testing.T, file []byte, ks []verdict.Kernel) []byte {
	t.Helper()
	table := testenv.Must(registry.ParseKfuncs("kfuncs.yaml", file))(t)
	proposed, changes := Kfuncs(table, ks)
	return testenv.Must(EditKfuncs("kfuncs.yaml", file, proposed, changes))(t)
}

func indentEntries(text, indent string) string {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "- ") || strings.HasPrefix(l, "  ") {
			lines[i] = indent + l
		}
	}
	return strings.Join(lines, "")
}

// TestEditKfuncsEmpty: an empty table is written whole, below its head comment.
func TestEditKfuncsEmpty(t *testing.T) {
	ks := matrix()
	out := syncKfuncFile(t, []byte("# empty for now\n[]\n"), ks)
	if !strings.HasPrefix(string(out), "# empty for now\n- name: bpf_a\n") {
		t.Errorf("edited empty table:\n%s", out)
	}
}

// FuzzEditKfuncs: whatever kfunc file sync is handed, editing a proposal into it gives an error
// or a file that loads and holds the proposal, never a panic.
func FuzzEditKfuncs(f *testing.F) {
	f.Add(syncedFile)
	f.Add(indentEntries(syncedFile, "  "))
	f.Add("# empty\n[]\n")
	f.Add("- {name: bpf_a, prototype: \"int bpf_a(void)\", min_kernel: \"6.1\", prog_types: [xdp], category: misc}\n")
	ks := matrix()
	f.Fuzz(func(t *testing.T, file string) {
		if len(file) > 1<<16 {
			return
		}
		table, err := registry.ParseKfuncs("kfuncs.yaml", []byte(file))
		if err != nil {
			return
		}
		proposed, changes := Kfuncs(table, ks)
		out, err := EditKfuncs("kfuncs.yaml", []byte(file), proposed, changes)
		if err != nil {
			return
		}
		if _, err := registry.ParseKfuncs("kfuncs.yaml", out); err != nil {
			t.Fatalf("edited file does not load: %v\n%s", err, out)
		}
	})
}
