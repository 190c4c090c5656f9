package probe

import (
	"context"
	"errors"
	"fmt"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/internal/kconfig"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// ErrUnknownVariant is returned (wrapped) by New for a "type/variant" selector whose variant the
// probe does not know.
var ErrUnknownVariant = errors.New("unknown attach variant")

// Options selects what to probe. The zero value probes everything.
type Options struct {
	// ProgTypes restricts the probe to these program types ("tracing") or single variants
	// ("tracing/fentry", "cgroup_sock_addr/connect4"). Empty means every type.
	ProgTypes []string
	// Helpers restricts the probe to these helper ids. Empty means every id the registry or the
	// kernel's BTF knows, plus one past the kernel's last (to record the "unknown id" answer).
	Helpers []int
	// Log receives progress lines and, loudly, every unclassified log; nil discards them.
	Log io.Writer
	// Workers is the number of loads run in parallel; 0 means one per CPU.
	Workers int
	// KernelConfig is the running kernel's build configuration, when known: a variant the
	// kernel refuses names the options it needs that the kernel was built without. Nil means
	// /proc/config.gz, then /boot/config-<release>, when present.
	KernelConfig kconfig.Config
}

// Stats are the costs of a probe, for benchmarks and progress lines.
type Stats struct {
	Pairs         int           // (helper, variant) results
	Loads         int           // BPF_PROG_LOAD calls that produced an answer, baseline ones included
	BaselineLoads int           // trivial-program loads New made to learn which variants load
	SignalRetries int           // loads repeated after EAGAIN/EINTR
	LogRetries    int           // loads repeated with a bigger log buffer after ENOSPC
	MaxLogBytes   int           // longest verifier log read
	Workers       int           // parallel loaders
	Duration      time.Duration // wall time of Run
}

// strategy selects how many loads a pair costs.
type strategy int

const (
	// minimalLoads is the default: one load per pair where possible (see Run).
	minimalLoads strategy = iota
	// everyPair loads every pair with a GPL license and, where that is supported, again
	// without: the reference the default must agree with. Tests use it.
	everyPair
)

// progKey names one probe program: the helper id it calls and the value it returns.
type progKey struct {
	id  int
	ret int32
}

// variant is a variantSpec resolved against the running kernel.
type variant struct {
	spec        *variantSpec
	prog        program
	info        observation.VariantInfo
	gplRequired bool
}

// Prober probes the running kernel. Create it with New; it is not safe for concurrent Runs.
type Prober struct {
	reg      *registry.Registry
	opts     Options
	facts    observation.Facts
	variants []*variant
	ids      []int
	maxID    int // __BPF_FUNC_MAX_ID from BTF, 0 when unknown
	// btfNames names ids from the kernel's own enum bpf_func_id; they name results when the
	// prober runs without a registry (the guest agent, whose build leaves the table out).
	btfNames map[int]string
	logSize  int
	strategy strategy
	insns    map[progKey][]byte // marshalled probe programs
	stats    Stats
}

// defaultLogSize is the first log buffer each loader gets. Probe logs are under 1 KB up to 7.2
// and under 3 KB with 7.3's explanation block; a load whose log does not fit is repeated with a
// bigger buffer, so this only needs to fit the common case.
const defaultLogSize = 4 << 10

// New reads the running kernel's release and BTF, selects the variants and helper ids to probe,
// and learns, with one trivial program per variant (two where the license matters), which
// variants this kernel loads at all. Nothing stays loaded when it returns. reg may be nil (the
// guest agent's build has no table): the ids are then 1 up to the kernel's BTF
// __BPF_FUNC_MAX_ID and results are named after the kernel's enum bpf_func_id.
func New(reg *registry.Registry, opts Options) (*Prober, error) {
	return newProber(reg, opts, defaultLogSize)
}

func newProber(reg *registry.Registry, opts Options, logSize int) (*Prober, error) {
	specs, err := selectVariants(opts.ProgTypes)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	for _, id := range opts.Helpers {
		if id <= 0 {
			return nil, fmt.Errorf("probe: helper id %d: %w", id, registry.ErrUnknownHelper)
		}
	}
	p := &Prober{reg: reg, opts: opts, logSize: logSize}
	if p.opts.Log == nil {
		p.opts.Log = io.Discard
	}
	if p.opts.Workers <= 0 {
		p.opts.Workers = runtime.NumCPU()
	}

	release, version, err := registry.RunningKernel()
	if release == "" {
		return nil, fmt.Errorf("probe: %w", err)
	}
	p.facts.Kernel.Release = release
	if err == nil {
		p.facts.Kernel.Version = fmt.Sprintf("%d.%d.%d", version.Major, version.Minor, version.Patch)
	}
	if p.opts.KernelConfig == nil {
		p.opts.KernelConfig = runningConfig(release)
	}

	kbtf, err := readKernelBTF()
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	p.facts.BTFHelperIDs = []int{}
	if kbtf != nil {
		p.facts.BTFHelperIDs = kbtf.helperIDs
		p.maxID = kbtf.maxID
		p.btfNames = kbtf.helperNames
	}
	if reg == nil && kbtf == nil {
		return nil, errors.New("probe: no registry and no kernel BTF: nothing says which helper ids to ask")
	}
	p.ids = p.selectIDs(kbtf)
	p.insns = map[progKey][]byte{}
	for _, s := range specs {
		for _, id := range p.ids {
			k := progKey{id, s.ret}
			if p.insns[k] != nil {
				continue
			}
			b, err := bpfasm.Marshal(bpfasm.ProbeProgramReturning(id, s.ret))
			if err != nil {
				return nil, fmt.Errorf("probe: %w", err)
			}
			p.insns[k] = b
		}
	}

	l := newLoader(logSize)
	var ext *extTarget
	var extErr error
	for _, s := range specs {
		if s.target == targetExt {
			ext, extErr = newExtTarget(l)
			break
		}
	}
	defer ext.Close()
	for _, s := range specs {
		v := p.resolve(s, kbtf, l, ext, extErr)
		if !v.info.Usable {
			v.info.Reason += p.missingConfig(s)
		}
		p.variants = append(p.variants, v)
	}
	p.stats.BaselineLoads = l.stats.loads
	p.addStats(l)
	p.facts.ProgTypes = p.progTypeFacts()

	usable := 0
	for _, v := range p.variants {
		if v.info.Usable {
			usable++
		} else {
			fmt.Fprintf(p.opts.Log, "probe: %s/%s not probed: %s\n", v.spec.progType, v.spec.name, v.info.Reason)
		}
	}
	fmt.Fprintf(p.opts.Log, "probe: kernel %s, %d helper ids in BTF (__BPF_FUNC_MAX_ID %d), %d of %d variants load, %d ids to ask\n",
		release, len(p.facts.BTFHelperIDs), p.maxID, usable, len(p.variants), len(p.ids))
	return p, nil
}

// selectVariants returns the variant specs matching the selectors ("type" or "type/variant").
func selectVariants(selectors []string) ([]*variantSpec, error) {
	if len(selectors) == 0 {
		out := make([]*variantSpec, len(variantSpecs))
		for i := range variantSpecs {
			out[i] = &variantSpecs[i]
		}
		return out, nil
	}
	chosen := map[*variantSpec]bool{}
	for _, sel := range selectors {
		typ, name, hasName := strings.Cut(sel, "/")
		if _, ok := registry.ProgTypeID(typ); !ok {
			return nil, fmt.Errorf("%w: %q (known: %s)", registry.ErrUnknownProgType, typ, strings.Join(registry.ProgTypeNames(), ", "))
		}
		found := false
		for i := range variantSpecs {
			s := &variantSpecs[i]
			if s.progType == typ && (!hasName || s.name == name) {
				chosen[s] = true
				found = true
			}
		}
		if !found {
			var known []string
			for _, s := range variantSpecs {
				if s.progType == typ {
					known = append(known, s.name)
				}
			}
			if hasName {
				return nil, fmt.Errorf("%w: %q (%s has %s)", ErrUnknownVariant, sel, typ, strings.Join(known, ", "))
			}
			return nil, fmt.Errorf("%w: %q has no probe variant", registry.ErrUnknownProgType, typ)
		}
	}
	var out []*variantSpec
	for i := range variantSpecs {
		if chosen[&variantSpecs[i]] {
			out = append(out, &variantSpecs[i])
		}
	}
	return out, nil
}

// CheckSelectors reports whether every selector ("type" or "type/variant") names a program type
// and variant the probe knows, so that a command can refuse a bad one before any guest boots.
func CheckSelectors(selectors []string) error {
	_, err := selectVariants(selectors)
	return err
}

// VariantNames returns every variant the probe knows as "prog_type/variant", in probe order.
func VariantNames() []string {
	out := make([]string, len(variantSpecs))
	for i, s := range variantSpecs {
		out[i] = s.progType + "/" + s.name
	}
	return out
}

// LastKnownID is the last helper id of the newest kernel bpfmatrix knows (7.3:
// cgrp_storage_delete, 211). A probe without a registry, as in the guest agent, still asks
// every id up to it and one past it, so that every kernel answers the same ids whatever the
// registry that is later judged against them holds.
const LastKnownID = 211

// selectIDs returns the helper ids to probe: the requested ones, or 1 up to one past the
// largest of LastKnownID, the registry's last id and the kernel's last helper (BTF's
// __BPF_FUNC_MAX_ID is one past it).
func (p *Prober) selectIDs(k *kernelBTF) []int {
	if len(p.opts.Helpers) > 0 {
		ids := slices.Clone(p.opts.Helpers)
		sort.Ints(ids)
		return slices.Compact(ids)
	}
	last := LastKnownID
	if p.reg != nil {
		for _, h := range p.reg.Helpers() {
			last = max(last, h.ID)
		}
	}
	last++
	if k != nil {
		last = max(last, k.maxID)
	}
	ids := make([]int, last)
	for i := range ids {
		ids[i] = i + 1
	}
	return ids
}

// runningConfig reads the running kernel's configuration from /proc/config.gz or
// /boot/config-<release>, or returns nil when neither is there.
func runningConfig(release string) kconfig.Config {
	for _, path := range []string{"/proc/config.gz", "/boot/config-" + release} {
		if c, err := kconfig.Read(path); err == nil {
			return c
		}
	}
	return nil
}

// missingConfig names the build options a variant needs that the kernel's known configuration
// lacks, as a clause to append to the reason it is unusable: the kernel's refusal alone does not
// say that no better probe could load it.
func (p *Prober) missingConfig(s *variantSpec) string {
	if p.opts.KernelConfig == nil {
		return ""
	}
	var missing []string
	for _, opt := range s.configs {
		if !p.opts.KernelConfig.Set(opt) {
			missing = append(missing, opt)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return "; this kernel is built without " + strings.Join(missing, ", ")
}

// resolve fills in a variant's load parameters from the kernel's BTF and learns with a trivial
// program whether the kernel loads the variant at all, and whether it loads it without GPL.
func (p *Prober) resolve(s *variantSpec, k *kernelBTF, l *loader, ext *extTarget, extErr error) *variant {
	v := &variant{spec: s, info: observation.VariantInfo{Name: s.name, AttachType: s.attachType, Sleepable: s.sleepable}}
	unusable := func(format string, args ...any) *variant {
		v.info.Reason = fmt.Sprintf(format, args...)
		return v
	}
	progTypeID, _ := registry.ProgTypeID(s.progType)
	v.prog.progType = progTypeID
	enumName := "BPF_PROG_TYPE_" + strings.ToUpper(s.progType)
	if k != nil {
		if _, ok := k.progTypes[enumName]; !ok {
			return unusable("type absent: %s is not in the kernel's enum bpf_prog_type", enumName)
		}
	}
	if s.attachType != "" {
		val, ok := uapiAttachTypes[s.attachType]
		if k != nil {
			val, ok = k.attachTypes[s.attachType]
		}
		switch {
		case ok:
			v.prog.attachType = val
		case s.attachOptional:
			v.info.AttachType = ""
		default:
			return unusable("attach type absent: %s is not in the kernel's enum bpf_attach_type", s.attachType)
		}
	}
	if s.sleepable {
		v.prog.flags |= unix.BPF_F_SLEEPABLE
	}

	// Candidate load parameters, one per attach target the kernel has.
	type candidate struct {
		name string
		prog program
	}
	var cands []candidate
	var missing []string
	switch s.target {
	case noTarget:
		cands = append(cands, candidate{"", v.prog})
	case targetExt:
		if extErr != nil {
			return unusable("%v", extErr)
		}
		prog := ext.program()
		prog.flags = v.prog.flags
		cands = append(cands, candidate{"probe_target (XDP program)", prog})
	default:
		if k == nil {
			return unusable("no kernel BTF to find an attach target in")
		}
		for _, name := range s.candidates {
			prog := v.prog
			var id btf.TypeID
			var ok bool
			switch s.target {
			case targetFunc:
				id, _, ok = typeID[*btf.Func](k, name)
			case targetTP:
				id, _, ok = typeID[*btf.Typedef](k, name)
			case targetMember:
				var st *btf.Struct
				id, st, ok = typeID[*btf.Struct](k, name)
				if ok {
					idx := slices.IndexFunc(st.Members, func(m btf.Member) bool { return m.Name == s.member })
					if idx < 0 {
						ok = false
					}
					prog.attachType = uint32(idx) // struct_ops: the member's index
					name += "." + s.member
				}
			}
			if !ok {
				missing = append(missing, name)
				continue
			}
			prog.attachBTFID = uint32(id)
			cands = append(cands, candidate{name, prog})
		}
		if len(cands) == 0 {
			return unusable("no attach target: none of %s is in the kernel's BTF", strings.Join(missing, ", "))
		}
	}

	trivial, err := bpfasm.Marshal(bpfasm.TrivialProgramReturning(s.ret))
	if err != nil {
		return unusable("%v", err)
	}
	// A variant is usable when a trivial program of it loads: anything less would make every
	// helper's answer about something other than the helper.
	var refusals []refusal
	for _, c := range cands {
		res := l.load(&c.prog, trivial, true)
		if res.errno != 0 {
			_, detail := Classify(res.errno, res.log)
			refusals = append(refusals, refusal{c.name, detail})
			continue
		}
		v.prog = c.prog
		v.info.Target = c.name
		v.info.Usable = true
		break
	}
	if !v.info.Usable {
		reason := summarize(refusals)
		if s.target == noTarget && s.attachType == "" && reason == "EINVAL before verification (empty log)" {
			// The kernel has the enum value but no verifier ops for it: not built in.
			reason = "type absent: the kernel refuses the type before verification (EINVAL, empty log); it is not built into this kernel"
		}
		return unusable("%s", reason)
	}
	// Some types refuse non-GPL programs before verification (LSM, struct_ops): then every
	// helper is asked with a GPL license only.
	res := l.load(&v.prog, trivial, false)
	if outcome, detail := Classify(res.errno, res.log); res.errno != 0 && outcome == observation.Inconclusive {
		v.gplRequired = true
		v.info.GPLRequired = true
		v.info.GPLReason = detail
	}
	return v
}

// refusal is the kernel's answer to a trivial program for one attach target.
type refusal struct{ target, detail string }

// summarize renders refusals as one reason, naming the answer once when every target got the
// same one ("EPERM before verification (empty log); targets tried: a, b").
func summarize(refusals []refusal) string {
	same := true
	var targets []string
	for _, r := range refusals {
		same = same && r.detail == refusals[0].detail
		if r.target != "" {
			targets = append(targets, r.target)
		}
	}
	if same {
		if len(targets) == 0 {
			return refusals[0].detail
		}
		return fmt.Sprintf("%s; targets tried: %s", refusals[0].detail, strings.Join(targets, ", "))
	}
	parts := make([]string, len(refusals))
	for i, r := range refusals {
		parts[i] = r.target + ": " + r.detail
	}
	return strings.Join(parts, "; ")
}

func (p *Prober) progTypeFacts() []observation.ProgTypeInfo {
	var out []observation.ProgTypeInfo
	for _, v := range p.variants {
		if len(out) == 0 || out[len(out)-1].Name != v.spec.progType {
			out = append(out, observation.ProgTypeInfo{Name: v.spec.progType})
		}
		t := &out[len(out)-1]
		t.Variants = append(t.Variants, v.info)
		if v.info.Usable {
			t.Present = true
			t.Reason = ""
		} else if !t.Present && t.Reason == "" {
			t.Reason = v.info.Reason
		}
	}
	return out
}

// Facts returns what New learned about the kernel.
func (p *Prober) Facts() observation.Facts { return p.facts }

// Stats returns the costs of New and the last Run.
func (p *Prober) Stats() Stats { return p.stats }

func (p *Prober) addStats(l *loader) {
	p.stats.Loads += l.stats.loads
	p.stats.SignalRetries += l.stats.retries
	p.stats.LogRetries += l.stats.logRetries
	p.stats.MaxLogBytes = max(p.stats.MaxLogBytes, l.stats.maxLogBytes)
}

// chunkSize is the number of pairs a worker takes at a time: small enough that results stream
// out steadily, large enough that hand-offs cost nothing next to the loads.
const chunkSize = 64

// pair is one (variant, helper id) to answer.
type pair struct {
	v      *variant
	id     int
	result observation.Result
	done   bool // answered without a load of its own
}

// Run answers every (helper, variant) pair and calls emit once per pair, in variant order and
// then id order, from the calling goroutine. It stops at the first error emit returns, or when
// ctx is done.
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
//     GPLOnly: no program of theirs can be anything but GPL.
func (p *Prober) Run(ctx context.Context, emit func(observation.Result) error) error {
	start := time.Now()
	p.stats.Loads, p.stats.SignalRetries, p.stats.LogRetries = p.stats.BaselineLoads, 0, 0

	// The ext target New loaded is gone; load a fresh one for this run, and forget its fds
	// when the run is over.
	for _, v := range p.variants {
		if v.spec.target != targetExt || (!v.info.Usable && p.strategy == minimalLoads) {
			continue
		}
		ext, err := newExtTarget(newLoader(p.logSize))
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		defer ext.Close()
		flags := v.prog.flags
		v.prog = ext.program()
		v.prog.flags = flags
		defer func() { v.prog.attachProgFD, v.prog.btfFD = 0, 0 }()
	}

	pairs := make([]pair, 0, len(p.variants)*len(p.ids))
	for _, v := range p.variants {
		for _, id := range p.ids {
			pr := pair{v: v, id: id, result: p.newResult(v, id)}
			if !v.info.Usable && p.strategy == minimalLoads {
				pr.result.Outcome, pr.result.Detail, pr.done = observation.Inconclusive, v.info.Reason, true
			}
			pairs = append(pairs, pr)
		}
	}
	first := newLoader(p.logSize)
	if p.strategy == minimalLoads {
		p.sentinels(first, pairs)
	}

	// Workers take the pairs in chunks: a channel hand-off per pair cost more than a load's
	// user-space work in a single-vCPU TCG guest, where every futex is an emulated syscall.
	workers := p.opts.Workers
	p.stats.Workers = workers
	nChunks := (len(pairs) + chunkSize - 1) / chunkSize
	var nextChunk atomic.Int64
	finished := make(chan int, nChunks)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loaders := make([]*loader, workers)
	var wg sync.WaitGroup
	for w := range workers {
		l := first
		if w > 0 {
			l = newLoader(p.logSize)
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
					if !pairs[i].done {
						p.answer(l, &pairs[i])
					}
				}
				finished <- c // buffered for every chunk: never blocks
			}
		}()
	}

	ready := make([]bool, nChunks)
	counts := map[observation.Outcome]int{}
	var runErr error
	for next := 0; next < len(pairs) && runErr == nil; {
		if c := next / chunkSize; !ready[c] {
			select {
			case done := <-finished:
				ready[done] = true
			case <-ctx.Done():
				runErr = ctx.Err()
			}
			continue
		}
		r := pairs[next].result
		counts[r.Outcome]++
		if r.Outcome == observation.Unclassified {
			fmt.Fprintf(p.opts.Log, "probe: UNCLASSIFIED %s/%s helper %d (%s): %s\n--- verifier log ---\n%s\n--- end of log ---\n",
				r.ProgType, r.Variant, r.HelperID, r.Helper, r.Detail, r.Log)
		}
		if err := emit(r); err != nil {
			runErr = fmt.Errorf("probe: emit: %w", err)
			break
		}
		next++
	}
	cancel()
	wg.Wait()
	for _, l := range loaders {
		p.addStats(l)
	}
	p.stats.Pairs = len(pairs)
	p.stats.Duration = time.Since(start)
	if runErr != nil {
		return runErr
	}
	var summary []string
	for _, o := range observation.Outcomes {
		if counts[o] > 0 {
			summary = append(summary, fmt.Sprintf("%s %d", o, counts[o]))
		}
	}
	fmt.Fprintf(p.opts.Log, "probe: %d pairs, %d loads (%d after EAGAIN/EINTR) in %v on %d workers: %s\n",
		len(pairs), p.stats.Loads, p.stats.SignalRetries, p.stats.Duration.Round(time.Millisecond), workers, strings.Join(summary, ", "))
	return nil
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
	insns := p.insns[progKey{pr.id, pr.v.spec.ret}]
	ask := func(gpl bool) (observation.Outcome, string, string) {
		res := l.load(&pr.v.prog, insns, gpl)
		o, d := Classify(res.errno, res.log)
		return o, d, res.log
	}
	var outcome observation.Outcome
	var detail, log string
	switch {
	case p.strategy == everyPair:
		outcome, detail, log = ask(true)
		if outcome == observation.Supported {
			if o, d, _ := ask(false); o == observation.GPLOnly {
				outcome, detail = o, d
			}
		}
	case pr.v.gplRequired:
		outcome, detail, log = ask(true)
	default:
		outcome, detail, log = ask(false)
		switch outcome {
		case observation.GPLOnly:
			// Offered, GPL only: a GPL program may still be refused for the target or for not
			// sleeping, which the verifier checks after the license.
			if o, d, lg := ask(true); o != observation.Supported {
				outcome, detail, log = o, d, lg
			}
		case observation.Inconclusive, observation.Unclassified:
			outcome, detail, log = ask(true)
		}
	}
	pr.result.Outcome, pr.result.Detail = outcome, detail
	if outcome == observation.Unclassified {
		pr.result.Log = log
	}
}

// Probe is New followed by a Run that collects every result into a observation.Document.
func Probe(ctx context.Context, reg *registry.Registry, opts Options) (*observation.Document, error) {
	p, err := New(reg, opts)
	if err != nil {
		return nil, err
	}
	rep := &observation.Document{Facts: p.Facts()}
	err = p.Run(ctx, func(r observation.Result) error {
		rep.Results = append(rep.Results, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}
