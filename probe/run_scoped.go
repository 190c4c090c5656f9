package probe

import (
	"context"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// runScopedHelpers asks the variants of a narrower scope (see scope) about the helpers the
// answers so far choose for them: target variants and the struct_ops members' canaries first,
// then every member of the member-sensitive kinds. It returns every pair answered, those of
// answered included.
func (p *Prober) runScopedHelpers(ctx context.Context, answered []pair, emit func(observation.Result) error, counts map[observation.Outcome]int) ([]pair, error) {
	for stage := range 3 {
		sp := p.helperScopePlan(answered)
		var asks []scopedAsk
		if stage == 0 {
			asks = sp.firstStage(func(v *variant) scope { return v.spec.helpers }, false)
		} else {
			asks = sp.memberStage(stage, false)
		}
		var pairs []pair
		for _, a := range asks {
			for _, id := range a.funcs {
				pairs = append(pairs, pair{v: a.v, id: id, result: p.newResult(a.v, id)})
			}
		}
		if len(pairs) == 0 {
			continue
		}
		var err error
		if pairs, err = p.runHelperPairs(ctx, pairs, false, emit, counts); err != nil {
			return answered, err
		}
		answered = append(answered, pairs...)
	}
	return answered, nil
}

// helperScopePlan is the scope plan of the helper pass over the pairs answered so far.
func (p *Prober) helperScopePlan(answered []pair) scopePlan {
	got := map[*variant]map[int]observation.Outcome{}
	for _, pr := range answered {
		if got[pr.v] == nil {
			got[pr.v] = map[int]observation.Outcome{}
		}
		got[pr.v][pr.id] = pr.result.Outcome
	}
	return scopePlan{
		variants: p.variants,
		funcs:    p.ids,
		answer: func(v *variant, id int) (observation.Outcome, bool) {
			o, ok := got[v][id]
			return o, ok
		},
		names: p.helperName,
	}
}

// scopedKfuncBatches are the steps of the kfunc pass for the scoped variants (see scope), after
// the plan's own: target variants and the members' canaries, then the members of
// member-sensitive kinds.
func (p *Prober) scopedKfuncBatches() []kfuncBatch {
	step := func(stage int) kfuncBatch {
		return func(answers map[kfuncKey]*kfuncJob, unknown map[int]*kfuncJob) []*kfuncJob {
			sp := p.kfuncScopePlan(answers, unknown)
			var asks []scopedAsk
			if stage > 0 {
				asks = sp.memberStage(stage, true)
			} else {
				asks = sp.firstStage(func(v *variant) scope { return v.spec.kfuncs }, true)
			}
			var jobs []*kfuncJob
			for _, a := range asks {
				for _, k := range a.funcs {
					jobs = append(jobs, &kfuncJob{v: a.v, k: k})
				}
			}
			return jobs
		}
	}
	return []kfuncBatch{step(0), step(1), step(2)}
}

// kfuncScopePlan is the scope plan of the kfunc pass over the answers so far; kfuncs the kernel
// does not know are no function to choose.
func (p *Prober) kfuncScopePlan(answers map[kfuncKey]*kfuncJob, unknown map[int]*kfuncJob) scopePlan {
	var funcs []int
	for k := range p.kfunc.list {
		if unknown[k] == nil {
			funcs = append(funcs, k)
		}
	}
	return scopePlan{
		variants: p.variants,
		funcs:    funcs,
		answer: func(v *variant, k int) (observation.Outcome, bool) {
			if j := answers[kfuncKey{v, k}]; j != nil {
				return j.result.Outcome, true
			}
			return "", false
		},
		names: func(k int) string { return p.kfunc.list[k].name },
	}
}
