package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/probe"
)

// writeDoc writes a one-type document of release to dir/name.json, with fexit answering
// helper 1 as fentry does, and helper 2 in other words (or, with from, copied from fentry).
func writeDoc(t *testing.T, dir, name, release, from string) {
	t.Helper()
	d := observation.Document{}
	d.Schema = observation.SchemaVersion
	d.Kernel.Release = release
	d.Guest = &observation.Guest{Status: observation.StatusOK}
	d.BTFHelperIDs = []int{1, 2}
	d.ProgTypes = []observation.ProgTypeInfo{{Name: "tracing", Present: true, Variants: []observation.VariantInfo{
		{Name: "fentry", Usable: true}, {Name: "fexit", Usable: true}}}}
	ok := observation.Supported
	d.Results = []observation.Result{
		{HelperID: 1, ProgType: "tracing", Variant: "fentry", Outcome: ok},
		{HelperID: 2, ProgType: "tracing", Variant: "fentry", Outcome: ok},
		{HelperID: 1, ProgType: "tracing", Variant: "fexit", Outcome: ok},
		{HelperID: 2, ProgType: "tracing", Variant: "fexit", Outcome: ok, Detail: "other", From: from},
	}
	b := testenv.Must(json.Marshal(d))(t)
	testenv.WriteFile(t, filepath.Join(dir, name+".json"), b)
}

// TestRun learns plans from directories of documents, and refuses a planned probe's.
func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name, from, wantErr string
	}{
		{name: "exhaustive"},
		{name: "planned", from: "fentry", wantErr: "tracing/fexit answers from fentry: not an exhaustive probe's document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, out := t.TempDir(), filepath.Join(t.TempDir(), "plan.json")
			writeDoc(t, in, "7.3", "7.3.4", tc.from)
			writeDoc(t, in, "6.1", "6.1.0", "")
			if testenv.WantErr(t, run([]string{in}, out), tc.wantErr) {
				return
			}
			p := testenv.Must(probe.ParsePlan(out, testenv.Must(os.ReadFile(out))(t)))(t)
			v := p.Variants["tracing/fexit"]
			if len(p.Kernels) != 2 || len(v.Releases) != 2 || len(v.Helpers) != 1 || v.Helpers[0] != 2 {
				t.Errorf("plan %+v", p)
			}
		})
	}
}
