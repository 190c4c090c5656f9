package probe

import (
	"fmt"
	"strconv"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
)

// usePlan sets the prober's plan for the running kernel from the built-in one: none when
// Options.Exhaustive asks for every pair, or when the plan was not learnt from this release.
func (p *Prober) usePlan() error {
	if p.opts.Exhaustive {
		fmt.Fprintf(p.opts.Log, "probe: exhaustive: every pair is loaded\n")
		return nil
	}
	plan := p.opts.plan
	if plan == nil {
		var err error
		if plan, err = embeddedPlanFor(p.facts.Kernel.Release); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
	}
	p.plan = plan.forRelease(p.facts.Kernel.Release)
	if p.plan == nil {
		fmt.Fprintf(p.opts.Log, "probe: the plan was not learnt from %s: every pair is loaded\n", p.facts.Kernel.Release)
		return nil
	}
	fmt.Fprintf(p.opts.Log, "probe: planned: %d variants answer as their base where %s's observation showed it\n",
		len(p.plan.variants), p.facts.Kernel.Release)
	return nil
}

// planBases returns, by program type, the base variant the plan names when this run has it
// usable: only then can others take its answers.
func (p *Prober) planBases() map[string]*variant {
	bases := map[string]*variant{}
	if p.plan == nil || p.strategy != minimalLoads {
		return bases
	}
	for _, v := range p.variants {
		if v.info.Usable && v.spec.name == p.plan.base(v.spec.progType) {
			bases[v.spec.progType] = v
		}
	}
	return bases
}

// planHelperCopies marks the pairs the plan answers with their base variant's answer: usable
// non-base variants, about helpers their base is asked before them. Their workers skip them,
// and emitInOrder copies the base's answer when it reaches them.
func (p *Prober) planHelperCopies(pairs []pair) {
	bases := p.planBases()
	if len(bases) == 0 {
		return
	}
	at := map[*variant]map[int]int{} // base variant -> id -> index in pairs
	for i, pr := range pairs {
		if bases[pr.v.spec.progType] == pr.v {
			if at[pr.v] == nil {
				at[pr.v] = map[int]int{}
			}
			at[pr.v][pr.id] = i
		}
	}
	for i := range pairs {
		pr := &pairs[i]
		base := bases[pr.v.spec.progType]
		if pr.done || !pr.v.info.Usable || base == nil || base == pr.v {
			continue
		}
		if b, ok := at[base][pr.id]; ok && b < i && p.plan.copyHelper(pr.v.spec.progType, pr.v.spec.name, pr.id) {
			pr.from = b + 1
		}
	}
}

// copyHelperAnswer gives pairs[i], marked by planHelperCopies, its base's answer, which is
// final by then: the base's pair comes first in emit order.
func copyHelperAnswer(pairs []pair, i int) {
	pr := &pairs[i]
	if pr.from == 0 || pr.done {
		return
	}
	base := pairs[pr.from-1]
	pr.result = copyAnswer(base.result, pr.result.Variant)
}

// copyAnswer is base's answer as variant's, marked as taken from base's variant.
func copyAnswer(base observation.Result, variant string) observation.Result {
	r := base
	r.Variant, r.From = variant, base.Variant
	return r
}

// planKfuncCopies splits jobs into those to load and those the plan answers with their base
// variant's answer, which is in answers already or among the jobs to load.
func (p *Prober) planKfuncCopies(jobs []*kfuncJob, answers map[kfuncKey]*kfuncJob) (load, copies []*kfuncJob) {
	bases := p.planBases()
	if len(bases) == 0 || p.kfunc.everyVariant {
		return jobs, nil
	}
	inBatch := map[kfuncKey]bool{}
	for _, j := range jobs {
		if bases[j.v.spec.progType] == j.v {
			inBatch[kfuncKey{j.v, j.k}] = true
		}
	}
	for _, j := range jobs {
		base := bases[j.v.spec.progType]
		if base == nil || base == j.v || j.deviceBound {
			load = append(load, j)
			continue
		}
		key := kfuncKey{base, j.k}
		if (answers[key] != nil || inBatch[key]) && p.plan.copyKfunc(j.v.spec.progType, j.v.spec.name, p.kfunc.list[j.k].name) {
			copies = append(copies, j)
		} else {
			load = append(load, j)
		}
	}
	return load, copies
}

// copyKfuncAnswers gives each of copies its base's answer and flags, once the base's load is in
// answers.
func (p *Prober) copyKfuncAnswers(copies []*kfuncJob, answers map[kfuncKey]*kfuncJob) {
	bases := p.planBases()
	for _, j := range copies {
		base := answers[kfuncKey{bases[j.v.spec.progType], j.k}]
		j.result = copyAnswer(base.result, j.v.spec.name)
		j.flags = base.flags
	}
}

// planHelperLikes marks the pairs the plan answers from their helper class's sentinel: a
// non-first helper of a class in a variant that refused the whole class on the release the plan
// learnt, when the sentinel's pair in that variant comes before it. Workers skip them;
// answerHelperLike settles them in emit order.
func (p *Prober) planHelperLikes(pairs []pair) {
	if p.plan == nil || p.strategy != minimalLoads {
		return
	}
	at := map[*variant]map[int]int{} // variant -> id -> index in pairs
	for i, pr := range pairs {
		if at[pr.v] == nil {
			at[pr.v] = map[int]int{}
		}
		at[pr.v][pr.id] = i
	}
	for i := range pairs {
		pr := &pairs[i]
		if pr.done || pr.from != 0 {
			continue
		}
		s, ok := p.plan.helperSentinel(pr.id, pr.v.spec.progType+"/"+pr.v.spec.name)
		if b, found := at[pr.v][s]; ok && found && b < i {
			pr.like = b + 1
		}
	}
}

// answerHelperLike settles pairs[i] when planHelperLikes marked it: with its sentinel's refusal
// for the type, worded for its own helper, when the sentinel (final by then: it comes first in
// emit order) was refused so; by its own load, on l, when the kernel answered the sentinel
// otherwise than the plan learnt.
func (p *Prober) answerHelperLike(l *loader, pairs []pair, i int) {
	pr := &pairs[i]
	if pr.like == 0 || pr.done {
		return
	}
	s := pairs[pr.like-1].result
	name, named := p.btfNames[pr.id]
	if id, ok := verifierlog.TypeRefusedHelper(s.Detail); ok && named && id == s.HelperID && s.Outcome == observation.NotForType {
		if line, ok := verifierlog.RenameHelperRefusal(s.Detail, "bpf_"+name, pr.id); ok {
			pr.result.Outcome, pr.result.Detail, pr.result.From = s.Outcome, line, s.From
			pr.result.Like, pr.done = strconv.Itoa(s.HelperID), true
			return
		}
	}
	p.answer(l, pr)
}
