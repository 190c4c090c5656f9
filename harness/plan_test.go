package harness

import (
	"context"
	"reflect"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// TestPlannedEqualsExhaustive boots 5.10 and 7.3, kernels the built-in plan was learnt from,
// with the planned probe and with the exhaustive one, and expects the same answers in the same
// order (the "from" marker aside) and the same facts drawn from them, with fewer loads. The
// planned answers are read from the verifier's messages alone, the exhaustive ones from its full
// log, so this holds both the plan and the shorter log to the reference.
func TestPlannedEqualsExhaustive(t *testing.T) {
	cfg := testConfig(t)
	kernels := testKernels(t, "5.10", "7.3")
	planned := testenv.Must(Run(context.Background(), cfg, kernels, nil))(t)
	cfg.Exhaustive = true
	exhaustive := testenv.Must(Run(context.Background(), cfg, kernels, nil))(t)
	for i, k := range kernels {
		p, e := planned[i], exhaustive[i]
		failIfNotOK(t, p)
		failIfNotOK(t, e)
		copies := comparePlanned(t, k.Name, p.Doc, e.Doc)
		pl, ex := p.Doc.Passes, e.Doc.Passes
		t.Logf("%s: %d of %d answers copied\n  planned:    %+v, probe %.1fs\n  exhaustive: %+v, probe %.1fs",
			k.Name, copies, len(p.Doc.Results), *pl, p.Doc.Guest.ProbeSeconds, *ex, e.Doc.Guest.ProbeSeconds)
		if copies == 0 || pl.HelperLoads+pl.KfuncLoads >= ex.HelperLoads+ex.KfuncLoads {
			t.Errorf("%s: the plan copied %d answers and took %d loads, exhaustive %d", k.Name, copies,
				pl.HelperLoads+pl.KfuncLoads, ex.HelperLoads+ex.KfuncLoads)
		}
	}
}

// comparePlanned reports every difference between a planned and an exhaustive document of one
// kernel, and returns the planned answers copied from a base variant or a class sentinel's refusal.
func comparePlanned(t *testing.T, name string, planned, exhaustive observation.Document) int {
	t.Helper()
	copies := 0
	key := func(r observation.Result) [4]any { return [4]any{r.ProgType, r.Variant, r.HelperID, r.Kfunc} }
	want := map[[4]any]observation.Result{}
	for _, r := range exhaustive.Results {
		want[key(r)] = r
	}
	for i, r := range planned.Results {
		if r.From != "" || r.Like != "" {
			copies++
			r.From, r.Like = "", ""
		}
		if w, ok := want[key(r)]; !ok || w != r {
			t.Errorf("%s: %s/%s %d%s: planned %s (%q), exhaustive %s (%q)", name, r.ProgType, r.Variant, r.HelperID, r.Kfunc,
				r.Outcome, r.Detail, w.Outcome, w.Detail)
		} else if i < len(exhaustive.Results) && key(exhaustive.Results[i]) != key(r) {
			t.Errorf("%s: result %d is %v, exhaustive %v", name, i, key(r), key(exhaustive.Results[i]))
		}
	}
	if len(planned.Results) != len(exhaustive.Results) {
		t.Errorf("%s: %d planned results, %d exhaustive", name, len(planned.Results), len(exhaustive.Results))
	}
	if !reflect.DeepEqual(planned.HelperArgs, exhaustive.HelperArgs) {
		t.Errorf("%s: helper argument facts differ", name)
	}
	if !reflect.DeepEqual(planned.Kfuncs, exhaustive.Kfuncs) {
		t.Errorf("%s: kfunc facts differ", name)
	}
	if !reflect.DeepEqual(planned.StructOps, exhaustive.StructOps) {
		t.Errorf("%s: struct_ops facts differ", name)
	}
	return copies
}
