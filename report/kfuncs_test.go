package report

import (
	"path/filepath"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// TestCountInconclusive counts kfunc answers per (kernel, kfunc, type): a type with a definite
// variant is answered, unknown kfuncs and types some kernel lacks are left out.
func TestCountInconclusive(t *testing.T) {
	kf := func(name, progType, variant string, o observation.Outcome, detail string) observation.Result {
		return observation.Result{Kfunc: name, ProgType: progType, Variant: variant, Outcome: o, Detail: detail}
	}
	present := func(names ...string) []observation.ProgTypeInfo {
		var out []observation.ProgTypeInfo
		for _, n := range names {
			out = append(out, observation.ProgTypeInfo{Name: n, Present: true})
		}
		return out
	}
	old := obs("5.10", "5.10.262",
		kf("k1", "xdp", "xdp", observation.UnknownID, "unknown"),
		kf("k1", "tracing", "tp_btf", observation.UnknownID, "unknown"))
	old.Facts.ProgTypes = append(present("xdp", "tracing"), observation.ProgTypeInfo{Name: "syscall", Reason: "type absent"})
	cur := obs("7.3", "7.3.4",
		kf("k1", "xdp", "xdp", observation.NotForType, "calling kernel function k1 is not allowed"),
		// One variant inconclusive, another definite: answered.
		kf("k1", "tracing", "fentry", observation.Inconclusive, "EPERM before verification"),
		kf("k1", "tracing", "tp_btf", observation.Supported, "arg#0"),
		// Every variant inconclusive: one inconclusive answer, with the first reason.
		kf("k2", "tracing", "fentry", observation.Inconclusive, "EINVAL before verification: why"),
		kf("k2", "tracing", "tp_btf", observation.Inconclusive, "other"),
		kf("k2", "xdp", "xdp", observation.Supported, "loaded"),
		// syscall is absent on 5.10: not counted.
		kf("k2", "syscall", "syscall", observation.Inconclusive, "EINVAL before verification: why"))
	cur.Facts.ProgTypes = present("xdp", "tracing", "syscall")
	failed := obs("7.2", "7.2.13", kf("k1", "xdp", "xdp", observation.Inconclusive, "x"))
	failed.Failed = true

	var s KfuncSummary
	s.countInconclusive([]Kernel{old, cur, failed})
	if s.Answers != 4 || s.Inconclusive != 1 || s.InconclusiveReasons["EINVAL before verification: why"] != 1 || len(s.InconclusiveReasons) != 1 {
		t.Fatalf("answers %d, inconclusive %d, reasons %v; want 4, 1, {EINVAL before verification: why: 1}", s.Answers, s.Inconclusive, s.InconclusiveReasons)
	}
}

// TestRecordedKfuncsInconclusive holds the recorded observations of the 11 kernels to the kfunc
// target: an answer for every (kfunc, type every kernel loads) pair of every kernel, at most 2 %
// of them inconclusive.
func TestRecordedKfuncsInconclusive(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "cmd", "bpfmatrix", "testdata", "observations", "*.json.gz"))
	if err != nil || len(paths) < 11 {
		t.Fatalf("recorded observations: %d files, %v", len(paths), err)
	}
	var kernels []Kernel
	for _, p := range paths {
		doc, err := observation.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		k, err := FromDocument(filepath.Base(p), p, doc)
		if err != nil {
			t.Fatal(err)
		}
		kernels = append(kernels, k)
	}
	var s KfuncSummary
	s.countInconclusive(kernels)
	share := float64(s.Inconclusive) / float64(max(1, s.Answers))
	t.Logf("%d answers, %d inconclusive (%.2f%%): %v", s.Answers, s.Inconclusive, 100*share, s.InconclusiveReasons)
	if s.Answers < 50000 || share > 0.02 {
		t.Errorf("%d answers, %.2f%% inconclusive; want tens of thousands, at most 2%%", s.Answers, 100*share)
	}
}
