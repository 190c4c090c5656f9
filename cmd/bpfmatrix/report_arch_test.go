package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden reports of testdata/archmix")

// archMix holds one kernel's amd64 and arm64 documents, trimmed from real 6.12 runs to the
// small registry's helpers and bpf_task_acquire, the arm64 one edited to answer two questions
// otherwise (testdata/archmix/README.md).
var archMix = filepath.Join("testdata", "archmix")

// TestReportArchGolden: report over a directory of amd64 and arm64 documents shows the arm64
// kernel beside its amd64 twin and the answers that differ, as the golden files say; over the
// amd64 document alone it writes, byte for byte, what report wrote before architectures were
// compared (golden-amd64 was written by that code, and -update leaves it alone).
func TestReportArchGolden(t *testing.T) {
	tests := []struct {
		name   string
		files  []string
		golden string
	}{
		{name: "amd64 and arm64", files: []string{"6.12.json", "6.12-arm64.json"}, golden: "golden"},
		{name: "amd64 alone", files: []string{"6.12.json"}, golden: "golden-amd64"},
		{name: "arm64 alone", files: []string{"6.12-arm64.json"}, golden: "golden-arm64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, out := t.TempDir(), t.TempDir()
			for _, f := range tc.files {
				data, err := os.ReadFile(filepath.Join(archMix, f))
				if err != nil {
					t.Fatal(err)
				}
				testenv.WriteFile(t, filepath.Join(in, f), data)
			}
			code, stdout, stderr := run("report", "--in", in, "--out", out, "--registry", smallRegistry,
				"--kfuncs", filepath.Join("..", "..", "registry", "testdata", "kfunc_task.yaml"),
				"--kernels-file", filepath.Join(in, "kernels.yaml"))
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got := map[string]string{"stdout": strings.ReplaceAll(stdout, out, "OUT")}
			for _, name := range []string{"report.json", "report.md", "report.html"} {
				data, err := os.ReadFile(filepath.Join(out, name))
				if err != nil {
					t.Fatal(err)
				}
				got[name] = string(data)
			}
			dir := filepath.Join(archMix, tc.golden)
			for name, text := range got {
				p := filepath.Join(dir, name)
				if *updateGolden && tc.golden != "golden-amd64" {
					testenv.WriteFile(t, p, []byte(text))
					continue
				}
				want, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if text != string(want) {
					t.Errorf("%s differs from %s (go test -run TestReportArchGolden -update rewrites it)", name, p)
				}
			}
		})
	}
}
