package probe

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// kfuncState is the prober's kfunc pass: what New found to ask, and how.
type kfuncState struct {
	list []kfunc
	// insns are the marshalled probe programs, by kfunc and return value, made once per run:
	// workers share them read-only.
	insns map[kfuncProg][]byte
	// everyVariant makes the pass ask every usable variant about every kfunc: the reference
	// the planned pass must agree with. Tests set it.
	everyVariant bool
	// modules are the BTF objects of the modules of list's kfuncs, open during the pass.
	modules *moduleBTFs
}

// discoverKfuncs records the kernel's kfuncs in p's facts and selects the ones Run asks about
// (see Options.Kfuncs). A kernel whose kfuncs cannot be read gets a log line, not an error: the
// helper probe does not depend on them.
func (p *Prober) discoverKfuncs(k *kernelBTF) {
	if k == nil {
		return
	}
	d, err := discoverKfuncs(k, vmlinuxBTFDir, KnownKfuncs())
	if err != nil {
		fmt.Fprintf(p.opts.Log, "probe: kfuncs not read: %v\n", err)
		return
	}
	d.log(p.opts.Log)
	p.facts.Kfuncs, p.facts.KfuncsAbsent = d.kfuncs, d.absent
	if len(p.opts.Helpers) > 0 && len(p.opts.Kfuncs) == 0 {
		return
	}
	for i, id := range d.ids {
		if len(p.opts.Kfuncs) == 0 || slices.Contains(p.opts.Kfuncs, d.kfuncs[i].Name) {
			p.kfunc.list = append(p.kfunc.list, kfunc{name: d.kfuncs[i].Name, id: id, fact: i, module: d.kfuncs[i].Module})
		}
	}
}

// openModules opens the BTF objects of the modules whose kfuncs the pass asks about and gives
// each such kfunc its call's off; the caller closes p.kfunc.modules when the pass is over.
func (p *Prober) openModules() error {
	var names []string
	for _, kf := range p.kfunc.list {
		if kf.module != "" && !slices.Contains(names, kf.module) {
			names = append(names, kf.module)
		}
	}
	m, err := openModuleBTFs(names)
	if err != nil {
		return err
	}
	for i := range p.kfunc.list {
		p.kfunc.list[i].off = m.index[p.kfunc.list[i].module]
	}
	for _, n := range names {
		if why := m.missing[n]; why != "" {
			fmt.Fprintf(p.opts.Log, "probe: kfuncs of module %s not asked: %s\n", n, why)
		}
	}
	p.kfunc.modules = m
	return nil
}

// kfuncProg names one kfunc probe program: kfunc k of kfuncState.list, returning ret.
type kfuncProg struct {
	k   int
	ret int32
}

// compileKfuncs marshals the probe program of every kfunc for every return value a variant
// needs.
func (p *Prober) compileKfuncs() error {
	p.kfunc.insns = map[kfuncProg][]byte{}
	for _, v := range p.variants {
		for k, kf := range p.kfunc.list {
			key := kfuncProg{k, v.spec.ret}
			if p.kfunc.insns[key] != nil {
				continue
			}
			b, err := bpfasm.Marshal(bpfasm.ModuleKfuncProbeProgram(uint32(kf.id), kf.off, v.spec.ret))
			if err != nil {
				return fmt.Errorf("probe: kfunc %s: %w", kf.name, err)
			}
			p.kfunc.insns[key] = b
		}
	}
	return nil
}

// vmlinuxBTFDir holds the kernel's BTF and, beside it, each loaded module's.
const vmlinuxBTFDir = "/sys/kernel/btf"

// kfuncJob is one load of the kfunc pass: kfunc k (an index in kfuncState.list) in variant v.
type kfuncJob struct {
	v      *variant
	k      int
	result observation.Result
	flags  []string
	// deviceBound makes the load bind the program to a device (see kfunc_device.go).
	deviceBound bool
}

// runKfuncs asks about every selected kfunc and emits one result per loaded (kfunc, variant), in
// variant order and then kfunc name order, after the helpers' results. The loads are planned
// (see kfuncGroup): every kfunc is first loaded once into a sentinel variant, and one the kernel
// does not know is answered observation.UnknownID for every type from that load (the kernel
// resolves a kfunc's id before it looks at the program type); the others are loaded into each
// type's plain variants, then into the variants the plain answers point at. Variants not loaded
// get no result, except that a type none of whose variants loads gets one inconclusive result
// per kfunc.
func (p *Prober) runKfuncs(ctx context.Context, emit func(observation.Result) error) error {
	if len(p.kfunc.list) == 0 {
		return nil
	}
	start := time.Now()
	loads := p.stats.Loads
	p.stats.KfuncPairs = 0
	if err := p.openModules(); err != nil {
		return err
	}
	defer p.kfunc.modules.close()
	if err := p.compileKfuncs(); err != nil {
		return err
	}
	groups := p.kfuncGroups()
	loaders := make([]*loader, p.opts.Workers)
	for i := range loaders {
		loaders[i] = p.answerLoader()
	}
	answers := map[kfuncKey]*kfuncJob{}
	unknown := map[int]*kfuncJob{}
	likes := 0
	for _, step := range p.kfuncBatches(groups) {
		for _, batch := range p.classSteps(step) {
			load, liked := splitLikes(batch(answers, unknown))
			load, copies := p.planKfuncCopies(load, answers)
			if err := p.runKfuncJobs(ctx, loaders, load); err != nil {
				return err
			}
			record(answers, load)
			p.copyKfuncAnswers(copies, answers)
			record(answers, copies)
			record(answers, liked)
			likes += len(liked)
		}
	}
	if likes > 0 {
		fmt.Fprintf(p.opts.Log, "probe: %d kfunc answers taken from their class sentinel's refusal in the same variant\n", likes)
	}
	if err := p.runKfuncJobs(ctx, loaders, p.deviceBoundJobs(answers)); err != nil {
		return err
	}
	for _, l := range loaders {
		p.addStats(l)
	}
	p.stats.KfuncLoads = p.stats.Loads - loads
	counts, err := p.emitKfuncs(groups, answers, unknown, emit)
	p.stats.KfuncDuration = time.Since(start)
	if err != nil {
		return err
	}
	p.logKfuncSummary(counts)
	return nil
}

// record files jobs' answers under their (variant, kfunc).
func record(answers map[kfuncKey]*kfuncJob, jobs []*kfuncJob) {
	for _, j := range jobs {
		answers[kfuncKey{j.v, j.k}] = j
	}
}

// kfuncKey names one (variant, kfunc) answer.
type kfuncKey struct {
	v *variant
	k int
}

// kfuncBatch returns the jobs of one step of the plan, given the answers so far; it records
// kfuncs its predecessor found unknown.
type kfuncBatch func(answers map[kfuncKey]*kfuncJob, unknown map[int]*kfuncJob) []*kfuncJob

// kfuncBatches returns the plan's steps: the sentinel loads, the plain variants, the follow-ups.
func (p *Prober) kfuncBatches(groups []*kfuncGroup) []kfuncBatch {
	n := len(p.kfunc.list)
	if p.kfunc.everyVariant {
		return []kfuncBatch{func(map[kfuncKey]*kfuncJob, map[int]*kfuncJob) []*kfuncJob {
			var jobs []*kfuncJob
			for _, g := range groups {
				jobs = appendJobs(jobs, g.all(), n, nil)
			}
			return jobs
		}}
	}
	sentinel := kfuncSentinel(groups)
	return append([]kfuncBatch{
		func(map[kfuncKey]*kfuncJob, map[int]*kfuncJob) []*kfuncJob {
			if sentinel == nil {
				return nil
			}
			return appendJobs(nil, []*variant{sentinel}, n, nil)
		},
		func(answers map[kfuncKey]*kfuncJob, unknown map[int]*kfuncJob) []*kfuncJob {
			for k := range n {
				if j := answers[kfuncKey{sentinel, k}]; j != nil && j.result.Outcome == observation.UnknownID {
					unknown[k] = j
				}
			}
			var jobs []*kfuncJob
			for _, g := range groups {
				jobs = appendJobs(jobs, slices.DeleteFunc(slices.Clone(g.plain), func(v *variant) bool { return v == sentinel }), n, unknown)
			}
			return jobs
		},
		func(answers map[kfuncKey]*kfuncJob, unknown map[int]*kfuncJob) []*kfuncJob {
			var jobs []*kfuncJob
			for _, g := range groups {
				for k := range n {
					if unknown[k] != nil {
						continue
					}
					var outcomes []observation.Outcome
					for _, v := range g.plain {
						outcomes = append(outcomes, answers[kfuncKey{v, k}].result.Outcome)
					}
					for _, v := range g.followUps(outcomes) {
						jobs = append(jobs, &kfuncJob{v: v, k: k})
					}
				}
			}
			return jobs
		},
	}, p.scopedKfuncBatches()...)
}

// kfuncSentinel returns the variant every kfunc is loaded into first: the first plain variant
// without an attach target (the cheapest load), or nil when none loads.
func kfuncSentinel(groups []*kfuncGroup) *variant {
	for _, g := range groups {
		for _, v := range g.plain {
			if v.spec.target == noTarget {
				return v
			}
		}
	}
	return nil
}

// appendJobs appends a job per (variant, kfunc) for every kfunc not in skip.
func appendJobs(jobs []*kfuncJob, vs []*variant, n int, skip map[int]*kfuncJob) []*kfuncJob {
	for _, v := range vs {
		for k := range n {
			if skip[k] == nil {
				jobs = append(jobs, &kfuncJob{v: v, k: k})
			}
		}
	}
	return jobs
}

// runKfuncJobs answers jobs on one goroutine per loader, a chunk at a time (see startWorkers).
func (p *Prober) runKfuncJobs(ctx context.Context, loaders []*loader, jobs []*kfuncJob) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, l := range loaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c := int(next.Add(1) - 1)
				if c*chunkSize >= len(jobs) {
					return
				}
				for _, j := range jobs[c*chunkSize : min((c+1)*chunkSize, len(jobs))] {
					p.answerKfunc(l, j)
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// answerKfunc loads j's probe program, with a GPL license (kfuncs are for GPL programs only),
// and records the outcome.
func (p *Prober) answerKfunc(l *loader, j *kfuncJob) {
	kf := p.kfunc.list[j.k]
	j.result = observation.Result{Kfunc: kf.name, ProgType: j.v.spec.progType, Variant: j.v.spec.name}
	if kf.module != "" && kf.off == 0 {
		j.result.Outcome, j.result.Detail = observation.Inconclusive, p.kfunc.modules.missing[kf.module]
		return
	}
	insns := j.v.program(p.kfunc.insns[kfuncProg{j.k, j.v.spec.ret}])
	prog := j.v.prog
	if kf.off != 0 {
		prog.fdArray = p.kfunc.modules.fdArray
	}
	if j.deviceBound {
		first := j.flags // the unbound load's, which showed device_bound
		prog := boundProgram(prog)
		res := l.load(&prog, insns, true)
		j.result.Outcome, j.result.Detail, j.flags = classifyDeviceBound(j.v.spec.progType, res)
		j.flags = mergeFlags(first, j.flags)
		j.result.Flags = strings.Join(j.flags, ",")
		if j.result.Outcome == observation.Unclassified {
			j.result.Log = l.fullLog(&prog, insns, true)
		}
		return
	}
	res := l.load(&prog, insns, true)
	j.result.Outcome, j.result.Detail, j.flags = ClassifyKfunc(res.errno, res.log)
	j.result.Flags = strings.Join(j.flags, ",")
	if j.result.Outcome == observation.Unclassified {
		j.result.Log = l.fullLog(&prog, insns, true)
	}
}

// emitKfuncs emits the pass's results in variant order, then kfunc order, records the flags
// the logs showed in the facts, and counts the outcomes.
func (p *Prober) emitKfuncs(groups []*kfuncGroup, answers map[kfuncKey]*kfuncJob, unknown map[int]*kfuncJob, emit func(observation.Result) error) (map[observation.Outcome]int, error) {
	groupOf := map[*variant]*kfuncGroup{}
	for _, g := range groups {
		for _, v := range p.variants {
			if v.spec.progType == g.progType {
				groupOf[v] = g
			}
		}
	}
	counts := map[observation.Outcome]int{}
	for _, v := range p.variants {
		g := groupOf[v]
		for k, kf := range p.kfunc.list {
			r, ok := p.kfuncResult(g, v, k, answers, unknown)
			if !ok {
				continue
			}
			counts[r.Outcome]++
			p.stats.KfuncPairs++
			fact := &p.facts.Kfuncs[kf.fact]
			for _, f := range answerFlags(answers, v, k) {
				if !slices.Contains(fact.Flags, f) {
					fact.Flags = append(fact.Flags, f)
					slices.Sort(fact.Flags)
				}
			}
			if r.Outcome == observation.Unclassified {
				fmt.Fprintf(p.opts.Log, "probe: UNCLASSIFIED %s/%s kfunc %s: %s\n--- verifier log ---\n%s\n--- end of log ---\n",
					r.ProgType, r.Variant, r.Kfunc, r.Detail, r.Log)
			}
			if err := emit(r); err != nil {
				return counts, fmt.Errorf("probe: emit: %w", err)
			}
		}
	}
	return counts, nil
}

// answerFlags returns the flags the load of kfunc k in variant v showed, if it was loaded.
func answerFlags(answers map[kfuncKey]*kfuncJob, v *variant, k int) []string {
	if j := answers[kfuncKey{v, k}]; j != nil {
		return j.flags
	}
	return nil
}

// kfuncResult returns the result to emit for kfunc k in variant v of group g, if any: its own
// load's, the sentinel's for a kfunc the kernel does not know (on the type's first plain
// variant), or the type's refusal (on its first variant, when none of its variants loads).
func (p *Prober) kfuncResult(g *kfuncGroup, v *variant, k int, answers map[kfuncKey]*kfuncJob, unknown map[int]*kfuncJob) (observation.Result, bool) {
	if j := answers[kfuncKey{v, k}]; j != nil {
		return j.result, true
	}
	r := observation.Result{Kfunc: p.kfunc.list[k].name, ProgType: v.spec.progType, Variant: v.spec.name}
	switch {
	case len(g.plain) == 0 && v == g.first:
		r.Outcome, r.Detail = observation.Inconclusive, v.info.Reason
	case unknown[k] != nil && len(g.plain) > 0 && v == g.plain[0]:
		r.Outcome, r.Detail = observation.UnknownID, unknown[k].result.Detail
	default:
		return r, false
	}
	return r, true
}

// logKfuncSummary prints the line that ends a kfunc pass.
func (p *Prober) logKfuncSummary(counts map[observation.Outcome]int) {
	var summary []string
	for _, o := range observation.Outcomes {
		if counts[o] > 0 {
			summary = append(summary, fmt.Sprintf("%s %d", o, counts[o]))
		}
	}
	fmt.Fprintf(p.opts.Log, "probe: %d kfuncs, %d (kfunc, variant) results, %d loads in %v: %s\n",
		len(p.kfunc.list), p.stats.KfuncPairs, p.stats.KfuncLoads, p.stats.KfuncDuration.Round(time.Millisecond), strings.Join(summary, ", "))
}
