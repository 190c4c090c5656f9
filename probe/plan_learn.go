package probe

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
)

// planFunc names one function of an answer: a helper id, or a kfunc name (id 0).
type planFunc struct {
	id    int
	kfunc string
}

// answerWords are what a copied answer must share with the base's for the copy to be exact:
// everything a Result says but its names.
type answerWords struct {
	outcome            observation.Outcome
	detail, log, flags string
}

// LearnPlan learns a plan from exhaustive observations (documents of probes that loaded every
// pair): for each document's kernel, each program type's base variant (the first the
// document lists), and for each non-base variant that answered every helper there, the
// functions whose answer differed from its base's, or that one of the two did not answer.
// Several documents of one release add up.
func LearnPlan(docs []*observation.Document) (*Plan, error) {
	p := &Plan{Variants: map[string]PlanVariant{}}
	asks := map[string]map[planFunc]bool{}
	releases, kfuncReleases := map[string][]string{}, map[string][]string{}
	for _, d := range docs {
		if d.Kernel.Release == "" {
			continue
		}
		k, variants := learnKernel(d, asks)
		if i := slices.IndexFunc(p.Kernels, func(o PlanKernel) bool { return o.Release == k.Release }); i >= 0 {
			p.Kernels[i] = mergeKernels(p.Kernels[i], k)
		} else {
			p.Kernels = append(p.Kernels, k)
		}
		for name, withKfuncs := range variants {
			if !slices.Contains(releases[name], k.Release) {
				releases[name] = append(releases[name], k.Release)
			}
			if withKfuncs && !slices.Contains(kfuncReleases[name], k.Release) {
				kfuncReleases[name] = append(kfuncReleases[name], k.Release)
			}
		}
	}
	if len(p.Kernels) == 0 {
		return nil, errNoPlanKernels
	}
	for name, rs := range releases {
		v := PlanVariant{Releases: rs, KfuncReleases: kfuncReleases[name]}
		if v.KfuncReleases == nil {
			v.KfuncReleases = []string{}
		}
		v.Helpers, v.Kfuncs = splitFuncs(asks[name])
		p.Variants[name] = v
	}
	return p, nil
}

// learnKernel learns one document: its kernel's entry, and the non-base variants the plan may
// speak for there (usable, with a usable base, answering every helper of the document), each
// with whether it answered kfuncs, adding to asks, by variant, the functions they must be asked.
func learnKernel(d *observation.Document, asks map[string]map[planFunc]bool) (PlanKernel, map[string]bool) {
	k := PlanKernel{Release: d.Kernel.Release, Bases: map[string]string{}}
	for _, t := range d.ProgTypes {
		if len(t.Variants) > 0 {
			k.Bases[t.Name] = t.Variants[0].Name
		}
	}
	answers, funcs := documentAnswers(d)
	k.Helpers, k.Kfuncs = splitFuncs(funcs)
	k.KfuncClasses = kfuncClasses(d.Results)
	k.HelperClasses = helperClasses(d.Results)
	planned := map[string]bool{}
	for _, t := range d.ProgTypes {
		if len(t.Variants) == 0 || !t.Variants[0].Usable {
			continue // a base that does not load answers for no other variant
		}
		base := answers[t.Name+"/"+k.Bases[t.Name]]
		for _, v := range t.Variants[1:] {
			name := t.Name + "/" + v.Name
			if !v.Usable || !answersEveryHelper(answers[name], k.Helpers) {
				continue // not loaded, or a scoped variant: asked what the other answers choose
			}
			withKfuncs := slices.ContainsFunc(slices.Collect(maps.Keys(answers[name])), func(f planFunc) bool { return f.kfunc != "" })
			planned[name] = withKfuncs
			if asks[name] == nil {
				asks[name] = map[planFunc]bool{}
			}
			for f := range funcs {
				if f.kfunc != "" && !withKfuncs {
					continue
				}
				got, ok1 := answers[name][f]
				want, ok2 := base[f]
				if !ok1 || !ok2 || got != want {
					asks[name][f] = true
				}
			}
		}
	}
	return k, planned
}

// kfuncClasses groups the kfuncs of results by the variants that refused them for not being in
// the type's id sets: kfuncs refused so in exactly the same variants (at least one) share id
// sets as far as this kernel shows, so one's refusal answers for the others. Classes of one
// are left out.
func kfuncClasses(results []observation.Result) [][]string {
	classes := groupRefusals(results, func(r observation.Result) (string, bool) {
		name, ok := verifierlog.TypeRefusedKfunc(r.Detail)
		return name, ok && name == r.Kfunc
	})
	return kfuncMembers(classes)
}

// helperClasses groups the helpers of results by the variants that refused them for the
// program's type, as kfuncClasses does kfuncs; each class keeps those variants.
func helperClasses(results []observation.Result) []PlanHelperClass {
	return helperPlanClasses(groupRefusals(results, func(r observation.Result) (int, bool) {
		id, ok := verifierlog.TypeRefusedHelper(r.Detail)
		return id, ok && r.Kfunc == "" && id == r.HelperID
	}))
}

// refusalClass is functions (kfunc names or helper ids) that a kernel refused for the program's
// type in exactly the same variants.
type refusalClass[F cmp.Ordered] struct {
	members  []F      // sorted
	variants []string // sorted "type/variant" names; nil when not known (a plan's kfunc class)
}

// groupRefusals groups the functions that results refuse for the type (refused says which
// function a result's refusal is of, and whether it is one) by the variants that refused them.
func groupRefusals[F cmp.Ordered](results []observation.Result, refused func(observation.Result) (F, bool)) []refusalClass[F] {
	refusedIn := map[F][]string{}
	for _, r := range results {
		if f, ok := refused(r); ok && r.Outcome == observation.NotForType {
			refusedIn[f] = append(refusedIn[f], r.ProgType+"/"+r.Variant)
		}
	}
	byPattern := map[string]*refusalClass[F]{}
	for f, vs := range refusedIn {
		slices.Sort(vs)
		key := strings.Join(vs, " ")
		if byPattern[key] == nil {
			byPattern[key] = &refusalClass[F]{variants: vs}
		}
		byPattern[key].members = append(byPattern[key].members, f)
	}
	return sortedClasses(slices.Collect(maps.Values(byPattern)))
}

// sortedClasses sorts each class's members and the classes by their first member, leaving out
// classes of fewer than two.
func sortedClasses[F cmp.Ordered](groups []*refusalClass[F]) []refusalClass[F] {
	var classes []refusalClass[F]
	for _, c := range groups {
		if len(c.members) > 1 {
			slices.Sort(c.members)
			classes = append(classes, *c)
		}
	}
	slices.SortFunc(classes, func(a, b refusalClass[F]) int { return cmp.Compare(a.members[0], b.members[0]) })
	return classes
}

// refineClasses keeps together only the functions that both learnings of a release put in one
// class, refused where both saw the class refused: two documents of one release that disagree
// split a class rather than join two.
func refineClasses[F cmp.Ordered](a, b []refusalClass[F]) []refusalClass[F] {
	inB := map[F]int{}
	for i, c := range b {
		for _, f := range c.members {
			inB[f] = i
		}
	}
	groups := map[[2]int]*refusalClass[F]{}
	for i, c := range a {
		for _, f := range c.members {
			j, ok := inB[f]
			if !ok {
				continue
			}
			g := groups[[2]int{i, j}]
			if g == nil {
				g = &refusalClass[F]{variants: slices.DeleteFunc(slices.Clone(c.variants), func(v string) bool {
					_, found := slices.BinarySearch(b[j].variants, v)
					return !found
				})}
				groups[[2]int{i, j}] = g
			}
			g.members = append(g.members, f)
		}
	}
	return sortedClasses(slices.Collect(maps.Values(groups)))
}

// kfuncMembers is the plan's form of kfunc classes: their members (the plan does not keep the
// variants: the kfunc pass loads a class's first kfunc in each variant before the others).
func kfuncMembers(classes []refusalClass[string]) [][]string {
	var out [][]string
	for _, c := range classes {
		out = append(out, c.members)
	}
	return out
}

// kfuncRefusals is kfuncMembers' inverse, with the variants unknown.
func kfuncRefusals(classes [][]string) []refusalClass[string] {
	var out []refusalClass[string]
	for _, c := range classes {
		out = append(out, refusalClass[string]{members: c})
	}
	return out
}

// helperPlanClasses is the plan's form of helper classes; a class left without a variant (two
// learnings that saw it refused in none alike) answers nowhere and is dropped.
func helperPlanClasses(classes []refusalClass[int]) []PlanHelperClass {
	var out []PlanHelperClass
	for _, c := range classes {
		if len(c.variants) > 0 {
			out = append(out, PlanHelperClass{Helpers: c.members, Variants: c.variants})
		}
	}
	return out
}

// helperRefusals is helperPlanClasses' inverse.
func helperRefusals(classes []PlanHelperClass) []refusalClass[int] {
	var out []refusalClass[int]
	for _, c := range classes {
		out = append(out, refusalClass[int]{members: c.Helpers, variants: c.Variants})
	}
	return out
}

// documentAnswers returns a document's answers by "type/variant" and function, and every
// function answered.
func documentAnswers(d *observation.Document) (map[string]map[planFunc]answerWords, map[planFunc]bool) {
	answers := map[string]map[planFunc]answerWords{}
	funcs := map[planFunc]bool{}
	for _, r := range d.Results {
		name := r.ProgType + "/" + r.Variant
		if answers[name] == nil {
			answers[name] = map[planFunc]answerWords{}
		}
		f := planFunc{id: r.HelperID, kfunc: r.Kfunc}
		if r.Kfunc != "" {
			f.id = 0
		}
		answers[name][f] = answerWords{r.Outcome, r.Detail, r.Log, r.Flags}
		funcs[f] = true
	}
	return answers, funcs
}

// answersEveryHelper reports whether a variant's answers cover every helper id of ids.
func answersEveryHelper(answers map[planFunc]answerWords, ids []int) bool {
	if len(answers) == 0 {
		return false
	}
	for _, id := range ids {
		if _, ok := answers[planFunc{id: id}]; !ok {
			return false
		}
	}
	return true
}

// mergeKernels joins two learnings of one release: the functions either answered, the bases of
// the first (a second document of a release with other bases is another probe's).
func mergeKernels(a, b PlanKernel) PlanKernel {
	a.Helpers = slices.Compact(slices.Sorted(slices.Values(append(a.Helpers, b.Helpers...))))
	a.Kfuncs = slices.Compact(slices.Sorted(slices.Values(append(a.Kfuncs, b.Kfuncs...))))
	a.KfuncClasses = kfuncMembers(refineClasses(kfuncRefusals(a.KfuncClasses), kfuncRefusals(b.KfuncClasses)))
	a.HelperClasses = helperPlanClasses(refineClasses(helperRefusals(a.HelperClasses), helperRefusals(b.HelperClasses)))
	for t, v := range b.Bases {
		if _, ok := a.Bases[t]; !ok {
			a.Bases[t] = v
		}
	}
	return a
}

// Marshal writes the plan as ParsePlan reads it, a kernel or a variant a line, in sorted order,
// so that a regenerated plan's diff shows what changed.
func (p *Plan) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{\n\"kernels\": [\n")
	for i, k := range p.Kernels {
		line, err := json.Marshal(k)
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		b.Write(line)
		if i < len(p.Kernels)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("],\n\"variants\": {\n")
	names := slices.Sorted(maps.Keys(p.Variants))
	for i, name := range names {
		key, _ := json.Marshal(name)
		line, err := json.Marshal(p.Variants[name])
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		fmt.Fprintf(&b, "%s: %s", key, line)
		if i < len(names)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n}\n")
	return b.Bytes(), nil
}

// splitFuncs returns the helper ids and the kfunc names of set, each sorted and never nil (the
// plan file writes empty lists, not nulls).
func splitFuncs(set map[planFunc]bool) ([]int, []string) {
	helpers, kfuncs := []int{}, []string{}
	for f := range set {
		if f.kfunc != "" {
			kfuncs = append(kfuncs, f.kfunc)
		} else {
			helpers = append(helpers, f.id)
		}
	}
	slices.Sort(helpers)
	slices.Sort(kfuncs)
	return helpers, kfuncs
}
