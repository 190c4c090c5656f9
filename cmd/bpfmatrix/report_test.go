package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

var goldenLoadJSON = filepath.Join("..", "..", "objverdict", "testdata", "golden", "load.json")

// reportDir lays out what bpfmatrix run and bpfmatrix load --out leave in one directory: the
// recorded 5.10 observations under observations/, and load.json beside them when loadJSON is
// not nil. It returns the observations directory.
func reportDir(t *testing.T, loadJSON []byte) string {
	t.Helper()
	dir := t.TempDir()
	obs := filepath.Join(dir, "observations")
	if err := os.Mkdir(obs, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(recorded, "5.10.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, filepath.Join(obs, "5.10.json.gz"), data)
	if loadJSON != nil {
		testenv.WriteFile(t, filepath.Join(dir, "load.json"), loadJSON)
	}
	return obs
}

// TestReportLoads: report shows a load.json given with --loads, or found next to --in; a
// --loads that is missing or malformed, or a malformed load.json next to --in, is bad input
// (exit 2) naming the file, and nothing is written.
func TestReportLoads(t *testing.T) {
	golden, err := os.ReadFile(goldenLoadJSON)
	if err != nil {
		t.Fatal(err)
	}
	malformed := []byte(strings.Replace(string(golden), `"cause": "gpl_only"`, `"cause": "gpl"`, 1))
	elsewhere := testenv.WriteFile(t, filepath.Join(t.TempDir(), "elsewhere.json"), malformed)
	tests := []struct {
		name      string
		beside    []byte // load.json next to the observations, nil for none
		loads     string // --loads, "" for none; "BESIDE" for the file next to the observations
		code      int
		shown     bool   // the reports show the objects
		stderrHas string // for exit 2: what stderr names
	}{
		{name: "no load.json", code: exitOK},
		{name: "load.json beside the observations", beside: golden, code: exitOK, shown: true},
		{name: "--loads given", loads: goldenLoadJSON, code: exitOK, shown: true},
		{name: "--loads missing", loads: filepath.Join(t.TempDir(), "none.json"), code: exitBadArgs, stderrHas: "none.json"},
		{name: "--loads malformed", beside: golden, loads: elsewhere, code: exitBadArgs, stderrHas: elsewhere + `: loads[`},
		{name: "--loads a directory", loads: t.TempDir(), code: exitBadArgs, stderrHas: "is a directory"},
		{name: "malformed load.json beside", beside: malformed, code: exitBadArgs, stderrHas: `load.json: loads[`},
		{name: "--loads names the malformed one beside", beside: malformed, loads: "BESIDE", code: exitBadArgs, stderrHas: `unknown cause "gpl"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := reportDir(t, tt.beside)
			out := t.TempDir()
			args := []string{"report", "--in", obs, "--registry", smallRegistry, "--out", out}
			switch tt.loads {
			case "":
			case "BESIDE":
				args = append(args, "--loads", filepath.Join(filepath.Dir(obs), "load.json"))
			default:
				args = append(args, "--loads", tt.loads)
			}
			code, stdout, stderr := run(args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, stdout, stderr)
			}
			if tt.code == exitBadArgs {
				if !strings.Contains(stderr, tt.stderrHas) {
					t.Errorf("stderr %q does not name %q", stderr, tt.stderrHas)
				}
				if left, _ := os.ReadDir(out); len(left) != 0 {
					t.Errorf("bad input, yet %d files written", len(left))
				}
				return
			}
			page, err := os.ReadFile(filepath.Join(out, "report.html"))
			if err != nil {
				t.Fatal(err)
			}
			md, err := os.ReadFile(filepath.Join(out, "report.md"))
			if err != nil {
				t.Fatal(err)
			}
			for name, shows := range map[string]bool{
				"report.html": strings.Contains(string(page), `<tr data-object="calls.o" data-program="loop_kprobe"`),
				"report.md":   strings.Contains(string(md), "### nongpl.o"),
			} {
				if shows != tt.shown {
					t.Errorf("%s shows the objects: %v, want %v", name, shows, tt.shown)
				}
			}
		})
	}
}
