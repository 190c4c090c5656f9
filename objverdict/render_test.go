package objverdict

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

var update = flag.Bool("update", false, "rewrite the golden files of the renderings")

// goldenReport is a report of each kind of answer: static ones for two objects on three
// kernels, and booted ones for a third object: loaded with defaults and attached, refused with
// the verifier's words, and a kernel whose guest failed.
func goldenReport(t *testing.T) *Report {
	t.Helper()
	r := regs(t)
	ks := []Kernel{{"5.10", "5.10.262"}, {"6.12", "6.12.118"}, {"7.3", "7.3.4"}}
	var all []Answer
	for _, name := range []string{"calls", "nongpl"} {
		all = append(all, StaticObject(object(t, name), name+".o", ks, r)...)
	}
	loop := program(t, "calls", "loop_kprobe")
	attached := true
	all = append(all,
		FromLoad(observation.ProgramLoad{Object: "booted.o", Program: loop.Name, Section: loop.Section, Cause: observation.CauseHelperUnknown,
			Reason: "invalid func unknown#181", Log: "0: R1=ctx() R10=fp0\ninvalid func unknown#181"}, ks[0], loop, r),
		KernelFailed("booted.o", loop, ks[1], "kernel panic at 2.1 s"),
		FromLoad(observation.ProgramLoad{Object: "booted.o", Program: loop.Name, Section: loop.Section, Loaded: true,
			Attached: &attached, Defaults: []string{"map counts: max_entries 0 set to 1"}}, ks[2], loop, r),
	)
	return NewReport([]string{"5.10", "6.12", "7.3"}, all)
}

func TestRenderGolden(t *testing.T) {
	rep := goldenReport(t)
	tests := []struct {
		file  string
		write func(*Report, *bytes.Buffer) error
		parse func([]byte) error
	}{
		{"load.txt", func(r *Report, b *bytes.Buffer) error { return r.WriteText(b) }, nil},
		{"load.md", func(r *Report, b *bytes.Buffer) error { return r.WriteMarkdown(b) }, nil},
		{"load.xml", func(r *Report, b *bytes.Buffer) error { return r.WriteJUnit(b) }, func(b []byte) error { return xml.Unmarshal(b, new(junitSuites)) }},
		{"load.json", func(r *Report, b *bytes.Buffer) error { return r.WriteJSON(b) }, func(b []byte) error { return json.Unmarshal(b, new(Report)) }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(rep, &b); err != nil {
				t.Fatal(err)
			}
			if tt.parse != nil {
				if err := tt.parse(b.Bytes()); err != nil {
					t.Fatalf("the output does not read back: %v", err)
				}
			}
			path := filepath.Join("testdata", "golden", tt.file)
			if *update {
				testenv.WriteFile(t, path, b.Bytes())
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run the test with -update to write it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from the rendering (run with -update and review the diff):\n%s", path, b.String())
			}
		})
	}
}

// TestJSONKeys checks the keys users' scripts read from every answer and program summary.
func TestJSONKeys(t *testing.T) {
	var b bytes.Buffer
	if err := goldenReport(t).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Kernels  []string         `json:"kernels"`
		Loads    []map[string]any `json:"loads"`
		Programs []map[string]any `json:"programs"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	lists := map[string][]map[string]any{"loads": doc.Loads, "programs": doc.Programs}
	need := map[string][]string{
		"loads":    {"object", "program", "section", "prog_type", "kernel", "version", "loaded", "cause", "reason", "calls", "static"},
		"programs": {"object", "program", "section", "summary", "loads_on"},
	}
	for list, keys := range need {
		if len(lists[list]) == 0 {
			t.Fatalf("no %s", list)
		}
		for i, rec := range lists[list] {
			for _, k := range keys {
				if _, ok := rec[k]; !ok {
					t.Errorf("%s[%d] has no key %q", list, i, k)
				}
			}
		}
	}
	if len(doc.Kernels) != 3 {
		t.Errorf("kernels %v, want the 3 asked", doc.Kernels)
	}
	for i, rec := range doc.Loads {
		calls := rec["calls"].(map[string]any)
		for _, k := range []string{"helpers", "kfuncs", "maps", "target"} {
			if _, ok := calls[k]; !ok {
				t.Errorf("loads[%d].calls has no key %q", i, k)
			}
		}
	}
}

// TestReportOrder: answers given in any order come out by program and kernel order, and
// AllLoaded is true exactly when nothing was refused.
func TestReportOrder(t *testing.T) {
	in := []Answer{
		{Object: "a.o", Program: "p", Kernel: "7.3", Loaded: true},
		{Object: "a.o", Program: "q", Kernel: "5.10", Loaded: true},
		{Object: "a.o", Program: "p", Kernel: "5.10", Loaded: true},
		{Object: "a.o", Program: "q", Kernel: "7.3", Loaded: true},
	}
	r := NewReport([]string{"5.10", "7.3"}, in)
	var got []string
	for _, a := range r.Loads {
		got = append(got, a.Program+"@"+a.Kernel)
	}
	if want := []string{"p@5.10", "p@7.3", "q@5.10", "q@7.3"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if !r.AllLoaded() {
		t.Error("AllLoaded false with every answer loaded")
	}
	in[1].Loaded, in[1].Cause = false, observation.CauseMap
	if NewReport([]string{"5.10", "7.3"}, in).AllLoaded() {
		t.Error("AllLoaded true with a refusal")
	}
}
