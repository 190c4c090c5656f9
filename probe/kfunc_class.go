package probe

import (
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
)

// Most of the kfunc pass's loads end in one refusal: the kfunc is not in any id set the
// program's type may call. Kfuncs registered in the same sets are refused in the same variants,
// and the plan knows, for the releases it was learnt from, which kfuncs were refused in exactly
// the same variants (PlanKernel.KfuncClasses). So each step of the pass loads a class's first
// kfunc (its sentinel) before the others in the same variant, and where the kernel refuses the
// sentinel that way the others are answered from that refusal instead of being loaded. Where it
// answers anything else (this kernel is not what the plan learnt), they are loaded as before.

// classSteps splits a step of the kfunc pass in two when the plan has kfunc classes for this
// release: the step's jobs but the followers whose class's sentinel is asked in the same
// variant in the step or was before, then those followers, answered from the sentinel's refusal
// where it was one (answerLike) and loaded otherwise.
func (p *Prober) classSteps(step kfuncBatch) []kfuncBatch {
	if p.plan == nil || p.strategy != minimalLoads || p.kfunc.everyVariant || len(p.plan.sentinels) == 0 {
		return []kfuncBatch{step}
	}
	index := map[string]int{}
	for k, kf := range p.kfunc.list {
		index[kf.name] = k
	}
	var followers []*kfuncJob
	first := func(answers map[kfuncKey]*kfuncJob, unknown map[int]*kfuncJob) []*kfuncJob {
		jobs := step(answers, unknown)
		asked := map[kfuncKey]bool{}
		for _, j := range jobs {
			asked[kfuncKey{j.v, j.k}] = true
		}
		var now []*kfuncJob
		followers = nil
		for _, j := range jobs {
			s, ok := index[p.plan.sentinel(p.kfunc.list[j.k].name)]
			if ok && s != j.k && (asked[kfuncKey{j.v, s}] || answers[kfuncKey{j.v, s}] != nil) {
				followers = append(followers, j)
			} else {
				now = append(now, j)
			}
		}
		return now
	}
	second := func(answers map[kfuncKey]*kfuncJob, _ map[int]*kfuncJob) []*kfuncJob {
		for _, j := range followers {
			p.answerLike(j, answers[kfuncKey{j.v, index[p.plan.sentinel(p.kfunc.list[j.k].name)]}])
		}
		return followers
	}
	return []kfuncBatch{first, second}
}

// answerLike answers j from its class sentinel's answer s in the same variant when the kernel
// refused the sentinel for not being in the type's id sets; j stays unanswered (to be loaded)
// otherwise, and when j's own load could not be made as the sentinel's was (its module's BTF
// is missing: j's load would be inconclusive).
func (p *Prober) answerLike(j *kfuncJob, s *kfuncJob) {
	kf := p.kfunc.list[j.k]
	if s == nil || s.result.Outcome != observation.NotForType || kf.module != "" && kf.off == 0 {
		return
	}
	if name, ok := verifierlog.TypeRefusedKfunc(s.result.Detail); !ok || name != s.result.Kfunc {
		return
	}
	j.result = s.result
	j.result.Kfunc, j.result.Detail, j.result.Like = kf.name, verifierlog.TypeRefusalLine(kf.name), s.result.Kfunc
	j.flags = s.flags
}

// splitLikes separates the jobs answerLike answered from those to load.
func splitLikes(jobs []*kfuncJob) (load, likes []*kfuncJob) {
	for _, j := range jobs {
		if j.result.Like != "" {
			likes = append(likes, j)
		} else {
			load = append(load, j)
		}
	}
	return load, likes
}
