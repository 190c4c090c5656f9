package probe

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
)

// TestDefaultPlanReads reads the built-in plan: a plan that does not read would fail every probe.
func TestDefaultPlanReads(t *testing.T) {
	p, err := DefaultPlan()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Kernels) == 0 || len(p.Variants) == 0 {
		t.Errorf("built-in plan: %d kernels, %d variants", len(p.Kernels), len(p.Variants))
	}
}

// TestEmbeddedPlanFor checks that the part of the built-in plan a probe reads for a release is
// exactly what the whole plan says of it: its kernel, and every variant.
func TestEmbeddedPlanFor(t *testing.T) {
	whole, err := DefaultPlan()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range append(slices.Clone(whole.Kernels), PlanKernel{Release: "9.9.9-unknown"}) {
		part, err := embeddedPlanFor(k.Release)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(part.Variants, whole.Variants) {
			t.Errorf("%s: variants differ", k.Release)
		}
		if !reflect.DeepEqual(part.forRelease(k.Release), whole.forRelease(k.Release)) {
			t.Errorf("%s: the part's plan for the release differs from the whole plan's", k.Release)
		}
	}
}

// TestParsePlanRefuses feeds ParsePlan bad plans and expects an error naming the file, the line
// and what is wrong.
func TestParsePlanRefuses(t *testing.T) {
	const kernel = `{"release":"7.3","bases":{"tracing":"fentry"},"helpers":[1,2],"kfuncs":["a","b"]}`
	for _, tc := range []struct {
		name, plan, want string
	}{
		{"not json", "{\n\"kernels\": [\n", "bad.json:"},
		{"unknown key", "{\"kernels\":[" + kernel + "],\n\"variants\":{},\n\"colour\":1}", `bad.json:3: unknown key "colour"`},
		{"repeated key", "{\"kernels\":[" + kernel + "],\n\"variants\":{\n\"tracing/fexit\":{},\n\"tracing/fexit\":{}}}", `bad.json:4: key "tracing/fexit" twice`},
		{"key in other case", "{\"kernels\":[\n{\"releAse\":\"7.3\"}]}", `bad.json:2: unknown key "releAse"`},
		{"unknown key in a variant", "{\"kernels\":[" + kernel + "],\"variants\":{\"tracing/fexit\":{\n\"Helpers\":[]}}}", `bad.json:2: unknown key "Helpers"`},
		{"repeated key in a kernel", `{"kernels":[{"release":"a","release":"b"}]}`, `key "release" twice`},
		{"no kernels", `{"kernels":[],"variants":{}}`, "no kernels"},
		{"empty release", "{\"kernels\":[\n{\"release\": \"\",\"bases\":{}}]}", `bad.json:2: empty release`},
		{"release twice", "{\"kernels\":[\n" + kernel + ",\n" + kernel + "]}", "release 7.3 twice"},
		{"unsorted helpers", `{"kernels":[{"release":"7.3","helpers":[2,1]}]}`, "helper ids must be positive, sorted and once each (1)"},
		{"helper zero", `{"kernels":[{"release":"7.3","helpers":[0]}]}`, "(0)"},
		{"repeated kfunc", `{"kernels":[{"release":"7.3","kfuncs":["a","a"]}]}`, `sorted and once each ("a")`},
		{"variant name", "{\"kernels\":[" + kernel + "],\"variants\":{\n\"fexit\":{\"releases\":[\"7.3\"]}}}", `bad.json:2: variant "fexit" is not prog_type/variant`},
		{"variant without releases", "{\"kernels\":[" + kernel + "],\"variants\":{\n\"tracing/fexit\":{}}}", "tracing/fexit: no releases"},
		{"kfunc release not the variant's", "{\"kernels\":[" + kernel + "],\"variants\":{\n\"tracing/fexit\":{\"releases\":[\"7.3\"],\"kfunc_releases\":[\"6.1\"]}}}", `bad.json:2: variant tracing/fexit: kfunc release "6.1" is not among its releases`},
		{"variant release unknown", "{\"kernels\":[" + kernel + "],\"variants\":{\n\"tracing/fexit\":{\"releases\":[\"6.1\"]}}}", `release "6.1" is not among the kernels`},
		{"data after", "{\"kernels\":[" + kernel + "]}\n{}", "bad.json:2: data after the plan"},
		{"class of one", `{"kernels":[{"release":"7.3","kfuncs":["a","b"],"kfunc_classes":[["a"]]}]}`, "a kfunc class has 1 members: two or more"},
		{"unsorted class", `{"kernels":[{"release":"7.3","kfuncs":["a","b"],"kfunc_classes":[["b","a"]]}]}`, `a kfunc class must be sorted, each name once ("a")`},
		{"kfunc in two classes", `{"kernels":[{"release":"7.3","kfuncs":["a","b","c"],"kfunc_classes":[["a","b"],["b","c"]]}]}`, "kfunc b is in two classes"},
		{"class member not answered", `{"kernels":[{"release":"7.3","kfuncs":["a","b"],"kfunc_classes":[["a","z"]]}]}`, "kfunc class member z is not among the release's kfuncs"},
		{"helper class of one", `{"kernels":[{"release":"7.3","helpers":[1,2],"helper_classes":[{"helpers":[1],"variants":["xdp/xdp"]}]}]}`, "a helper class has 1 helpers and 1 variants"},
		{"helper class without variants", `{"kernels":[{"release":"7.3","helpers":[1,2],"helper_classes":[{"helpers":[1,2],"variants":[]}]}]}`, "a helper class has 2 helpers and 0 variants"},
		{"helper in two classes", `{"kernels":[{"release":"7.3","helpers":[1,2,3],"helper_classes":[{"helpers":[1,2],"variants":["xdp/xdp"]},{"helpers":[2,3],"variants":["xdp/xdp"]}]}]}`, "helper 2 of a class is not among the release's helpers, or in two classes"},
		{"helper class member not answered", `{"kernels":[{"release":"7.3","helpers":[1,2],"helper_classes":[{"helpers":[1,9],"variants":["xdp/xdp"]}]}]}`, "helper 9 of a class"},
		{"helper class variant name", `{"kernels":[{"release":"7.3","helpers":[1,2],"helper_classes":[{"helpers":[1,2],"variants":["xdp"]}]}]}`, `sorted type/variant names, each once ("xdp")`},
		{"unknown key in a helper class", "{\"kernels\":[{\"release\":\"7.3\",\"helper_classes\":[\n{\"ids\":[]}]}]}", `bad.json:2: unknown key "ids"`},
		{"unknown key in a kernel", "{\"kernels\":[\n{\"release\":\"7.3\",\"kfunc_class\":[]}]}", `bad.json:2: unknown key "kfunc_class"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePlan("bad.json", []byte(tc.plan))
			testenv.WantErr(t, err, tc.want)
			if err != nil && !strings.HasPrefix(err.Error(), "bad.json") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// planDoc is a document of one kernel: types with their variants in order (a name ending in
// "!" is a variant the kernel does not load), and results.
func planDoc(release string, types map[string][]string, order []string, results ...observation.Result) *observation.Document {
	d := &observation.Document{}
	d.Kernel.Release = release
	for _, typ := range order {
		info := observation.ProgTypeInfo{Name: typ}
		for _, v := range types[typ] {
			name, unusable := strings.CutSuffix(v, "!")
			info.Variants = append(info.Variants, observation.VariantInfo{Name: name, Usable: !unusable})
		}
		d.ProgTypes = append(d.ProgTypes, info)
	}
	d.Results = results
	return d
}

// answer is a result of helper id (or kfunc k) in typ/variant.
func answer(typ, variant string, id int, k string, o observation.Outcome, detail string) observation.Result {
	return observation.Result{ProgType: typ, Variant: variant, HelperID: id, Kfunc: k, Outcome: o, Detail: detail}
}

// TestLearnPlan learns plans from small documents and checks what each non-base variant is
// asked, and where the plan speaks for it.
func TestLearnPlan(t *testing.T) {
	types := map[string][]string{"tracing": {"fentry", "fexit", "fentry.d_path"}, "xdp": {"xdp"}}
	order := []string{"tracing", "xdp"}
	sup, nft := observation.Supported, observation.NotForTarget
	common := []observation.Result{
		answer("tracing", "fentry", 1, "", sup, ""), answer("tracing", "fentry", 2, "", sup, ""),
		answer("tracing", "fentry", 0, "k1", sup, ""), answer("xdp", "xdp", 1, "", sup, ""), answer("xdp", "xdp", 2, "", sup, ""),
		// A scoped variant: answers one helper, so the plan never speaks for it.
		answer("tracing", "fentry.d_path", 2, "", nft, "d_path"),
	}
	for _, tc := range []struct {
		name string
		docs []*observation.Document
		want map[string]PlanVariant
	}{
		{"alike", []*observation.Document{planDoc("7.3", types, order, append(common,
			answer("tracing", "fexit", 1, "", sup, ""), answer("tracing", "fexit", 2, "", sup, ""), answer("tracing", "fexit", 0, "k1", sup, ""))...)},
			map[string]PlanVariant{"tracing/fexit": {Releases: []string{"7.3"}, KfuncReleases: []string{"7.3"}, Helpers: []int{}, Kfuncs: []string{}}}},
		{"other words, other outcome", []*observation.Document{planDoc("7.3", types, order, append(common,
			answer("tracing", "fexit", 1, "", sup, "other"), answer("tracing", "fexit", 2, "", nft, ""), answer("tracing", "fexit", 0, "k1", nft, ""))...)},
			map[string]PlanVariant{"tracing/fexit": {Releases: []string{"7.3"}, KfuncReleases: []string{"7.3"}, Helpers: []int{1, 2}, Kfuncs: []string{"k1"}}}},
		{"no kfunc answered", []*observation.Document{planDoc("7.3", types, order, append(common,
			answer("tracing", "fexit", 1, "", sup, ""), answer("tracing", "fexit", 2, "", sup, ""))...)},
			map[string]PlanVariant{"tracing/fexit": {Releases: []string{"7.3"}, KfuncReleases: []string{}, Helpers: []int{}, Kfuncs: []string{}}}},
		{"a kfunc the base answered, the variant not", []*observation.Document{planDoc("7.3", types, order, append(common,
			answer("tracing", "fentry", 0, "k2", sup, ""), answer("tracing", "fexit", 1, "", sup, ""), answer("tracing", "fexit", 2, "", sup, ""),
			answer("tracing", "fexit", 0, "k1", sup, ""))...)},
			map[string]PlanVariant{"tracing/fexit": {Releases: []string{"7.3"}, KfuncReleases: []string{"7.3"}, Helpers: []int{}, Kfuncs: []string{"k2"}}}},
		{"unusable on a kernel", []*observation.Document{
			planDoc("6.1", map[string][]string{"tracing": {"fentry", "fexit!"}, "xdp": {"xdp"}}, order, append(common,
				answer("tracing", "fexit", 1, "", observation.Inconclusive, "no"), answer("tracing", "fexit", 2, "", observation.Inconclusive, "no"))...),
			planDoc("7.3", types, order, append(common, answer("tracing", "fexit", 1, "", sup, ""), answer("tracing", "fexit", 2, "", sup, ""),
				answer("tracing", "fexit", 0, "k1", sup, ""))...)},
			map[string]PlanVariant{"tracing/fexit": {Releases: []string{"7.3"}, KfuncReleases: []string{"7.3"}, Helpers: []int{}, Kfuncs: []string{}}}},
		{"base unusable", []*observation.Document{planDoc("7.3", map[string][]string{"tracing": {"fentry!", "fexit"}, "xdp": {"xdp"}}, order, append(common,
			answer("tracing", "fexit", 1, "", sup, ""), answer("tracing", "fexit", 2, "", sup, ""))...)},
			map[string]PlanVariant{}},
		{"a difference on one kernel counts for all", []*observation.Document{
			planDoc("6.1", types, order, append(common, answer("tracing", "fexit", 1, "", sup, ""), answer("tracing", "fexit", 2, "", nft, ""),
				answer("tracing", "fexit", 0, "k1", sup, ""))...),
			planDoc("7.3", types, order, append(common, answer("tracing", "fexit", 1, "", sup, ""), answer("tracing", "fexit", 2, "", sup, ""),
				answer("tracing", "fexit", 0, "k1", sup, ""))...)},
			map[string]PlanVariant{"tracing/fexit": {Releases: []string{"6.1", "7.3"}, KfuncReleases: []string{"6.1", "7.3"}, Helpers: []int{2}, Kfuncs: []string{}}}},
		{"absent on a kernel", []*observation.Document{
			planDoc("6.1", types, order, common...),
			planDoc("7.3", types, order, append(common, answer("tracing", "fexit", 1, "", sup, ""), answer("tracing", "fexit", 2, "", sup, ""),
				answer("tracing", "fexit", 0, "k1", sup, ""))...)},
			map[string]PlanVariant{"tracing/fexit": {Releases: []string{"7.3"}, KfuncReleases: []string{"7.3"}, Helpers: []int{}, Kfuncs: []string{}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := LearnPlan(tc.docs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Variants, tc.want) {
				t.Errorf("variants %+v, want %+v", p.Variants, tc.want)
			}
			for _, k := range p.Kernels {
				if k.Bases["tracing"] != "fentry" || k.Bases["xdp"] != "xdp" || !slices.Equal(k.Helpers, []int{1, 2}) {
					t.Errorf("kernel %+v", k)
				}
			}
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParsePlan("learnt.json", b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if !reflect.DeepEqual(back, p) {
				t.Errorf("read back %+v, learnt %+v", back, p)
			}
		})
	}
	if _, err := LearnPlan([]*observation.Document{{}}); err == nil {
		t.Error("a plan from a document without a release")
	}
}

// TestPlannedEqualsExhaustive learns a plan from an exhaustive probe of the host kernel, probes
// again by it, and expects every answer and every fact drawn from the answers to be the
// exhaustive probe's, in the same order, with fewer loads. The planned probe's answers come from
// the verifier's messages alone, the exhaustive one's from its full log: a difference is either
// the plan's or the log level's.
func TestPlannedEqualsExhaustive(t *testing.T) {
	requireRoot(t)
	exhaustive := runHostProbe(t, Options{Exhaustive: true})
	plan, err := LearnPlan([]*observation.Document{exhaustive})
	if err != nil {
		t.Fatal(err)
	}
	planned := runHostProbe(t, Options{plan: plan})
	if len(planned.Results) != len(exhaustive.Results) {
		t.Fatalf("%d planned results, %d exhaustive", len(planned.Results), len(exhaustive.Results))
	}
	copies := 0
	for i, r := range planned.Results {
		if r.From != "" || r.Like != "" {
			copies++
		}
		r.From, r.Like = "", ""
		if r != exhaustive.Results[i] {
			t.Errorf("result %d: planned %+v, exhaustive %+v", i, r, exhaustive.Results[i])
		}
	}
	if !reflect.DeepEqual(planned.HelperArgs, exhaustive.HelperArgs) {
		t.Errorf("helper argument facts differ")
	}
	if !reflect.DeepEqual(planned.Kfuncs, exhaustive.Kfuncs) {
		t.Errorf("kfunc facts differ")
	}
	pl, ex := planned.Passes, exhaustive.Passes
	t.Logf("%d of %d answers copied; loads helper %d/%d, args %d/%d, kfunc %d/%d (planned/exhaustive)",
		copies, len(planned.Results), pl.HelperLoads, ex.HelperLoads, pl.ArgLoads, ex.ArgLoads, pl.KfuncLoads, ex.KfuncLoads)
	if copies == 0 || pl.HelperLoads >= ex.HelperLoads {
		t.Errorf("the plan copied %d answers and took %d helper loads, exhaustive %d", copies, pl.HelperLoads, ex.HelperLoads)
	}
}

// runHostProbe probes the host kernel with opts and returns the document with the facts after
// the run.
func runHostProbe(t *testing.T, opts Options) *observation.Document {
	t.Helper()
	p, err := New(testRegistry(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	doc := &observation.Document{}
	err = p.Run(context.Background(), func(r observation.Result) error {
		doc.Results = append(doc.Results, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	doc.Facts = p.Facts()
	return doc
}

// FuzzParsePlan feeds ParsePlan any bytes: it must return a plan that reads back the same
// through Marshal, or an error that names the file, never panic.
func FuzzParsePlan(f *testing.F) {
	f.Add(planJSON)
	f.Add([]byte(`{"kernels":[{"release":"7.3","bases":{"tracing":"fentry"},"helpers":[1],"kfuncs":["a"]}],"variants":{"tracing/fexit":{"releases":["7.3"],"kfunc_releases":[],"helpers":[1],"kfuncs":[]}}}`))
	f.Add([]byte(`{"kernels":[{"release":"a","release":"b"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			t.Skip()
		}
		p, err := ParsePlan("fuzz.json", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.json:") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParsePlan("again.json", b); err != nil {
			t.Fatalf("a plan read from %q does not read back: %v\n%s", data, err, b)
		}
	})
}

// TestKfuncClasses learns kfunc classes from documents: kfuncs the kernel refused for not being
// in a type's id sets in exactly the same variants share a class; any other answer, or a
// refusal that names another kfunc, keeps a kfunc out.
func TestKfuncClasses(t *testing.T) {
	nft, sup := observation.NotForType, observation.Supported
	refused := func(variant, k string) observation.Result {
		return answer("tracing", variant, 0, k, nft, verifierlog.TypeRefusalLine(k))
	}
	for _, tc := range []struct {
		name    string
		results [][]observation.Result // one document each, all of release 7.3
		want    [][]string
	}{
		{"same variants", [][]observation.Result{{refused("fentry", "b"), refused("fentry", "a"), refused("fexit", "a"), refused("fexit", "b"),
			refused("fentry", "c"), answer("tracing", "fexit", 0, "c", sup, "")}}, [][]string{{"a", "b"}}},
		{"two classes, sorted", [][]observation.Result{{refused("fentry", "d"), refused("fentry", "c"), refused("fexit", "a"), refused("fexit", "b")}},
			[][]string{{"a", "b"}, {"c", "d"}}},
		{"never refused so", [][]observation.Result{{answer("tracing", "fentry", 0, "a", sup, ""), answer("tracing", "fentry", 0, "b", sup, "")}}, nil},
		{"refusal naming another kfunc", [][]observation.Result{{refused("fentry", "a"), answer("tracing", "fentry", 0, "b", nft, verifierlog.TypeRefusalLine("a"))}}, nil},
		{"refusal with another outcome", [][]observation.Result{{refused("fentry", "a"),
			answer("tracing", "fentry", 0, "b", observation.Inconclusive, verifierlog.TypeRefusalLine("b"))}}, nil},
		{"two documents split a class", [][]observation.Result{
			{refused("fentry", "a"), refused("fentry", "b"), refused("fentry", "c")},
			{refused("fentry", "a"), refused("fentry", "b"), refused("fexit", "c"), refused("fentry", "c")}}, [][]string{{"a", "b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := learnTracing(t, tc.results).KfuncClasses; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("classes %q, want %q", got, tc.want)
			}
		})
	}
}

// TestHelperClasses learns helper classes: helpers refused for the type in exactly the same
// variants share a class that keeps those variants; two documents of a release keep only what
// both saw.
func TestHelperClasses(t *testing.T) {
	nft, sup := observation.NotForType, observation.Supported
	refused := func(variant string, id int) observation.Result {
		line, _ := verifierlog.RenameHelperRefusal("program of this type cannot use helper bpf_x#1", fmt.Sprintf("bpf_h%d", id), id)
		return answer("tracing", variant, id, "", nft, line)
	}
	for _, tc := range []struct {
		name    string
		results [][]observation.Result
		want    []PlanHelperClass
	}{
		{"same variants", [][]observation.Result{{refused("fentry", 2), refused("fentry", 1), refused("fexit", 1), refused("fexit", 2),
			refused("fentry", 3), answer("tracing", "fexit", 3, "", sup, "")}},
			[]PlanHelperClass{{Helpers: []int{1, 2}, Variants: []string{"tracing/fentry", "tracing/fexit"}}}},
		{"refusal naming another helper", [][]observation.Result{{refused("fentry", 1), answer("tracing", "fentry", 2, "", nft, refused("fentry", 1).Detail)}}, nil},
		{"two documents", [][]observation.Result{
			{refused("fentry", 1), refused("fentry", 2), refused("fentry", 3), refused("fexit", 1), refused("fexit", 2), refused("fexit", 3)},
			{refused("fentry", 1), refused("fentry", 2), refused("fexit", 1), refused("fexit", 2), refused("fexit", 3)}},
			[]PlanHelperClass{{Helpers: []int{1, 2}, Variants: []string{"tracing/fentry", "tracing/fexit"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := learnTracing(t, tc.results).HelperClasses; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("classes %+v, want %+v", got, tc.want)
			}
		})
	}
}

// learnTracing learns a plan from documents of release 7.3, one per results, with the tracing
// variants fentry and fexit, checks that it reads back, and returns its kernel.
func learnTracing(t *testing.T, results [][]observation.Result) PlanKernel {
	t.Helper()
	var docs []*observation.Document
	for _, rs := range results {
		docs = append(docs, planDoc("7.3", map[string][]string{"tracing": {"fentry", "fexit"}}, []string{"tracing"}, rs...))
	}
	p, err := LearnPlan(docs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePlan("learnt.json", b); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return p.Kernels[0]
}
