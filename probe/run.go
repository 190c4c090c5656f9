package probe

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// chunkSize is the number of pairs a worker takes at a time: small enough that results stream
// out steadily, large enough that hand-offs cost nothing next to the loads.
const chunkSize = 64

// pair is one (variant, helper id) to answer.
type pair struct {
	v      *variant
	id     int
	result observation.Result
	done   bool // answered without a load of its own
	// from is 1 + the index of the pair whose answer this pair takes, by the plan (plan.go);
	// 0 for a pair that is loaded.
	from int
	// like is 1 + the index of the pair of its helper class's sentinel in the same variant,
	// whose refusal for the type answers this pair when it comes (see planHelperLikes); 0 for
	// a pair the plan does not answer so.
	like int
}

// Run answers every (helper, variant) pair and calls emit once per pair, in variant order and
// then id order, from the calling goroutine; the variants of a narrower scope (scope.go) follow,
// with the pairs the others' answers chose for them, in the same order. It stops at the first
// error emit returns, or when ctx is done.
//
// Loads are spent only where they carry information, and the answers are those of loading each
// pair with a GPL license and, where that is supported, again without one:
//   - ids at or past the kernel's __BPF_FUNC_MAX_ID (from BTF) get one sentinel load: the
//     verifier rejects them ("invalid func unknown#N") before it looks at the program type, so the
//     answer holds for every variant that reaches the verifier (checked per run: when the sentinel
//     says anything else, those ids are asked in every variant);
//   - variants the kernel refused a trivial program for are observation.Inconclusive without further loads;
//   - every other pair is loaded once without GPL, which answers "offered?" and "GPL-only?"
//     together (the verifier checks the helper's availability, then its GPL flag, then the
//     rest); only a GPL-only answer is reloaded with GPL, to see whether the helper is then
//     accepted or refused for another reason. Variants that refuse non-GPL programs outright
//     (LSM, struct_ops) are asked with GPL only, so their offered helpers are observation.Supported, never
//     GPLOnly: no program of theirs can be anything but GPL;
//   - on a release the plan (plan.go) was learnt from, a non-base variant's pair the plan does
//     not ask takes the base variant's answer, with no load (see planHelperCopies).
func (p *Prober) Run(ctx context.Context, emit func(observation.Result) error) error {
	start := time.Now()
	p.stats.Loads, p.stats.SignalRetries, p.stats.LogRetries = p.stats.BaselineLoads, 0, 0
	release, err := p.freshExtTargets()
	if err != nil {
		return err
	}
	defer release()
	p.countVariantCosts()

	counts := map[observation.Outcome]int{}
	pairs, runErr := p.runHelperPairs(ctx, p.newPairs(), true, emit, counts)
	if runErr == nil {
		pairs, runErr = p.runScopedHelpers(ctx, pairs, emit, counts)
	}
	if runErr == nil {
		runErr = p.runKfuncs(ctx, p.watchHeldObjects(emit)) // kfuncs after the helpers, on the same stream
	}
	if runErr == nil {
		runErr = p.askHeldObjects(ctx)
	}
	p.stats.Pairs = len(pairs)
	p.stats.Duration = time.Since(start)
	if runErr != nil {
		return runErr
	}
	if p.strategy == minimalLoads {
		p.helperArgsPass(ctx, pairs)
		p.stats.Duration = time.Since(start)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	p.recordPasses()
	p.logSummary(counts, len(pairs))
	return nil
}

// runHelperPairs answers pairs on the workers and emits them in order, adding to counts, and
// returns them answered. withSentinels answers the ids past the kernel's last helper first
// (see Run).
func (p *Prober) runHelperPairs(ctx context.Context, pairs []pair, withSentinels bool, emit func(observation.Result) error, counts map[observation.Outcome]int) ([]pair, error) {
	first := p.answerLoader()
	if withSentinels && p.strategy == minimalLoads {
		p.sentinels(first, pairs)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	loaders, finished := p.startWorkers(ctx, &wg, first, pairs)
	c, err := p.emitInOrder(ctx, finished, pairs, emit)
	cancel()
	wg.Wait()
	for _, l := range loaders {
		p.addStats(l)
	}
	for o, n := range c {
		counts[o] += n
	}
	return pairs, err
}

// countVariantCosts points every variant's loads at its own cost counter, from zero: a
// variant's program is settled by New (its target) and freshExtTargets (ext), and copies of it
// (the kfunc pass's, the argument pass's) share the counter.
func (p *Prober) countVariantCosts() {
	for _, v := range p.variants {
		v.cost.loads.Store(0)
		v.cost.nanos.Store(0)
		v.prog.cost = &v.cost
	}
}

// recordVariantCosts puts each variant's loads and their time in the run into its facts.
func (p *Prober) recordVariantCosts() {
	costs := map[string]*loadCost{}
	for _, v := range p.variants {
		costs[v.spec.progType+"/"+v.spec.name] = &v.cost
	}
	for i := range p.facts.ProgTypes {
		t := &p.facts.ProgTypes[i]
		for j := range t.Variants {
			if c, ok := costs[t.Name+"/"+t.Variants[j].Name]; ok {
				t.Variants[j].Loads = int(c.loads.Load())
				t.Variants[j].Seconds = time.Duration(c.nanos.Load()).Seconds()
			}
		}
	}
}

// recordPasses puts the run's per-pass costs into the facts.
func (p *Prober) recordPasses() {
	p.recordVariantCosts()
	s := p.stats
	helper := s.Duration - s.ArgDuration - s.KfuncDuration
	p.facts.Passes = &observation.PassStats{
		HelperLoads:   s.Loads - s.ArgLoads - s.KfuncLoads,
		HelperSeconds: helper.Seconds(),
		ArgLoads:      s.ArgLoads,
		ArgSeconds:    s.ArgDuration.Seconds(),
		KfuncLoads:    s.KfuncLoads,
		KfuncSeconds:  s.KfuncDuration.Seconds(),
	}
}

// freshExtTargets points every ext variant the run loads at a target program of its own: the one
// New loaded is gone. The returned function closes the targets and forgets their fds; call it
// once the run's loads are over.
func (p *Prober) freshExtTargets() (release func(), err error) {
	var undo []func()
	release = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	for _, v := range p.variants {
		if v.spec.target != targetExt || (!v.info.Usable && p.strategy == minimalLoads) {
			continue
		}
		ext, err := newExtTarget(newLoader(p.logSize))
		if err != nil {
			release()
			return nil, fmt.Errorf("probe: %w", err)
		}
		flags := v.prog.flags
		v.prog = ext.program()
		v.prog.flags = flags
		undo = append(undo, func() { ext.Close() }, func() { v.prog.attachProgFD, v.prog.btfFD = 0, 0 })
	}
	return release, nil
}

// newPairs lists every (variant, id) pair in emit order. In the default strategy, pairs of a
// variant the kernel refused a trivial program for are answered already: any load of theirs
// would be refused the same way.
func (p *Prober) newPairs() []pair {
	pairs := make([]pair, 0, len(p.variants)*len(p.ids))
	for _, v := range p.variants {
		if v.spec.helpers != scopeAll {
			continue // asked later, what the others' answers choose (runScopedHelpers)
		}
		for _, id := range p.ids {
			pr := pair{v: v, id: id, result: p.newResult(v, id)}
			if !v.info.Usable && p.strategy == minimalLoads {
				pr.result.Outcome, pr.result.Detail, pr.done = observation.Inconclusive, v.info.Reason, true
			}
			pairs = append(pairs, pr)
		}
	}
	p.planHelperCopies(pairs)
	p.planHelperLikes(pairs)
	return pairs
}

// startWorkers starts p.opts.Workers goroutines that answer pairs a chunk at a time, registered
// in wg, and returns their loaders (first is the first worker's) and the channel on which each
// finished chunk's index arrives. Workers take the pairs in chunks: a channel hand-off per pair
// cost more than a load's user-space work in a single-vCPU TCG guest, where every futex is an
// emulated syscall.
func (p *Prober) startWorkers(ctx context.Context, wg *sync.WaitGroup, first *loader, pairs []pair) ([]*loader, <-chan int) {
	workers := p.opts.Workers
	p.stats.Workers = workers
	nChunks := numChunks(len(pairs))
	var nextChunk atomic.Int64
	finished := make(chan int, nChunks)
	loaders := make([]*loader, workers)
	for w := range workers {
		l := first
		if w > 0 {
			l = p.answerLoader()
		}
		loaders[w] = l
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c := int(nextChunk.Add(1) - 1)
				if c >= nChunks {
					return
				}
				for i := c * chunkSize; i < min((c+1)*chunkSize, len(pairs)); i++ {
					if !pairs[i].done && pairs[i].from == 0 && pairs[i].like == 0 {
						p.answer(l, &pairs[i])
					}
				}
				finished <- c // buffered for every chunk: never blocks
			}
		}()
	}
	return loaders, finished
}

// numChunks is the number of chunks n pairs make.
func numChunks(n int) int { return (n + chunkSize - 1) / chunkSize }

// emitInOrder calls emit for every pair in order as the chunks holding them finish, printing
// unclassified logs loudly on the way, and counts the outcomes it emitted. It returns the first
// error emit returns, or ctx's when ctx is done first.
func (p *Prober) emitInOrder(ctx context.Context, finished <-chan int, pairs []pair, emit func(observation.Result) error) (map[observation.Outcome]int, error) {
	ready := make([]bool, numChunks(len(pairs)))
	counts := map[observation.Outcome]int{}
	l := p.answerLoader() // for the pairs the plan meant to answer from a refusal that did not come
	defer p.addStats(l)
	for next := 0; next < len(pairs); {
		if c := next / chunkSize; !ready[c] {
			select {
			case done := <-finished:
				ready[done] = true
			case <-ctx.Done():
				return counts, ctx.Err()
			}
			continue
		}
		copyHelperAnswer(pairs, next)
		p.answerHelperLike(l, pairs, next)
		r := pairs[next].result
		counts[r.Outcome]++
		if r.Outcome == observation.Unclassified {
			fmt.Fprintf(p.opts.Log, "probe: UNCLASSIFIED %s/%s helper %d (%s): %s\n--- verifier log ---\n%s\n--- end of log ---\n",
				r.ProgType, r.Variant, r.HelperID, r.Helper, r.Detail, r.Log)
		}
		if err := emit(r); err != nil {
			return counts, fmt.Errorf("probe: emit: %w", err)
		}
		next++
	}
	return counts, nil
}

// logSummary prints the line that ends a successful run: its cost and how many pairs got each
// outcome.
func (p *Prober) logSummary(counts map[observation.Outcome]int, pairs int) {
	var summary []string
	for _, o := range observation.Outcomes {
		if counts[o] > 0 {
			summary = append(summary, fmt.Sprintf("%s %d", o, counts[o]))
		}
	}
	fmt.Fprintf(p.opts.Log, "probe: %d pairs, %d loads (%d after EAGAIN/EINTR) in %v on %d workers: %s\n",
		pairs, p.stats.Loads, p.stats.SignalRetries, p.stats.Duration.Round(time.Millisecond), p.stats.Workers, strings.Join(summary, ", "))
}

func (p *Prober) newResult(v *variant, id int) observation.Result {
	r := observation.Result{HelperID: id, ProgType: v.spec.progType, Variant: v.spec.name}
	if p.reg == nil {
		r.Helper = p.btfNames[id]
	} else if h, ok := p.reg.ByID(id); ok {
		r.Helper = h.Name
	}
	return r
}

// sentinels answers the ids past the kernel's last helper with one load each (see Run).
func (p *Prober) sentinels(l *loader, pairs []pair) {
	if p.maxID == 0 {
		return
	}
	var sentinel *variant
	for _, v := range p.variants {
		if v.info.Usable && !v.gplRequired && v.spec.target == noTarget {
			sentinel = v
			break
		}
	}
	if sentinel == nil {
		return
	}
	answers := map[int]string{}
	for _, id := range p.ids {
		if id < p.maxID {
			continue
		}
		res := l.load(&sentinel.prog, p.insns[progKey{id, sentinel.spec.ret}], true)
		if outcome, detail := Classify(res.errno, res.log); outcome == observation.UnknownID {
			answers[id] = detail
		} else {
			fmt.Fprintf(p.opts.Log, "probe: id %d is past __BPF_FUNC_MAX_ID %d but %s said %s (%s): asking every variant\n",
				id, p.maxID, sentinel.spec.name, outcome, detail)
		}
	}
	for i := range pairs {
		pr := &pairs[i]
		if detail, ok := answers[pr.id]; ok && !pr.done {
			pr.result.Outcome, pr.result.Detail, pr.done = observation.UnknownID, detail, true
		}
	}
}

// answer loads pr's probe program as the strategy says and records the outcome.
func (p *Prober) answer(l *loader, pr *pair) {
	insns := pr.v.program(p.insns[progKey{pr.id, pr.v.spec.ret}])
	lastGPL := false
	ask := func(gpl bool) (observation.Outcome, string) {
		lastGPL = gpl
		res := l.load(&pr.v.prog, insns, gpl)
		return Classify(res.errno, res.log)
	}
	var outcome observation.Outcome
	var detail string
	switch {
	case p.strategy == everyPair:
		outcome, detail = ask(true)
		if outcome == observation.Supported {
			if o, d := ask(false); o == observation.GPLOnly {
				outcome, detail = o, d
			}
		}
	case pr.v.gplRequired:
		outcome, detail = ask(true)
	default:
		outcome, detail = ask(false)
		switch outcome {
		case observation.GPLOnly:
			// Offered, GPL only: a GPL program may still be refused for the target or for not
			// sleeping, which the verifier checks after the license.
			if o, d := ask(true); o != observation.Supported {
				outcome, detail = o, d
			}
		case observation.Inconclusive, observation.Unclassified:
			outcome, detail = ask(true)
		}
	}
	pr.result.Outcome, pr.result.Detail = outcome, detail
	if outcome == observation.Unclassified {
		// lastGPL is the license of the load that gave the answer: an unclassified answer
		// is never replaced by a later load.
		pr.result.Log = l.fullLog(&pr.v.prog, insns, lastGPL)
	}
}
