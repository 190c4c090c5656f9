package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/internal/kconfig"
	"github.com/bpfmatrix/bpfmatrix/observation"
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
	// Kfuncs restricts the kfunc pass to these kfuncs (vmlinux's and modules'), by name. Empty means every one
	// the kernel has, unless Helpers is set: a probe narrowed to some helpers asks about no
	// kfunc that Kfuncs does not name. The facts list every kfunc either way.
	Kfuncs []string
	// Modules are the modules the agent loaded for their kfuncs before the probe, recorded in
	// the facts as they are.
	Modules []observation.ModuleLoad
	// Exhaustive loads every pair, as on a kernel the built-in plan (plan.go) was not learnt
	// from, each with the verifier's full log: the reference the planned probe's answers
	// (read from the verifier's messages alone) must equal, and what a new plan is learnt from.
	Exhaustive bool
	// plan replaces the built-in plan: tests learn one on the host kernel.
	plan *Plan
}

// Stats are the costs of a probe, for benchmarks and progress lines.
type Stats struct {
	Pairs         int           // (helper, variant) results
	Loads         int           // BPF_PROG_LOAD calls that produced an answer, baseline ones included
	BaselineLoads int           // trivial-program loads New made to learn which variants load
	SignalRetries int           // loads repeated after EAGAIN/EINTR
	LogRetries    int           // loads repeated with a bigger log buffer after ENOSPC
	MaxLogBytes   int           // longest verifier log read
	ArgLoads      int           // loads of the argument pass (see Prober.HelperArgs), in Loads too
	ArgDuration   time.Duration // wall time of the argument pass, in Duration too
	Workers       int           // parallel loaders
	Duration      time.Duration // wall time of Run
	KfuncPairs    int           // (kfunc, variant) results of the kfunc pass
	KfuncLoads    int           // loads of the kfunc pass, in Loads too
	KfuncDuration time.Duration // wall time of the kfunc pass, in Duration too
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
	// release is the epilogue of a struct_ops member whose argument comes in referenced
	// (release.go); nil for every other variant.
	release *releaseEpilogue
	// cost is what the last Run's loads in this variant cost (prog.cost points here).
	cost loadCost
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
	argFacts argFacts
	stats    Stats
	kfunc    kfuncState  // the kfunc pass (kfunc_run.go)
	held     heldObjects // objects kfuncs work on, asked after the kfunc pass (heldobjects.go)
	// plan is the built-in plan's part for the running kernel (plan.go); nil asks every pair.
	plan *planFor
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
	p.facts.Modules = opts.Modules
	if p.opts.Log == nil {
		p.opts.Log = io.Discard
	}
	if p.opts.Workers <= 0 {
		p.opts.Workers = runtime.NumCPU()
	}
	kbtf, err := p.readKernel()
	if err != nil {
		return nil, err
	}
	if err := p.usePlan(); err != nil {
		return nil, err
	}
	if reg == nil && kbtf == nil {
		return nil, errors.New("probe: no registry and no kernel BTF: nothing says which helper ids to ask")
	}
	if specs, err = p.expandStructOps(specs, kbtf); err != nil {
		return nil, err
	}
	p.ids = p.selectIDs(kbtf)
	p.argFacts = readArgFacts(kbtf)
	if err := p.compile(specs); err != nil {
		return nil, err
	}
	p.resolveAll(specs, kbtf)
	p.logVariants()
	p.discoverKfuncs(kbtf)
	p.held.sizes = heldObjectSizes(kbtf)
	return p, nil
}

// readKernel records the running kernel's release, version and helper ids in p's facts, fills in
// its build configuration when the options left it out, and returns its BTF (nil without BTF).
func (p *Prober) readKernel() (*kernelBTF, error) {
	release, version, err := RunningKernel()
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
		p.facts.BTFHelperMaxID = kbtf.maxID
		p.facts.BTFHelpers = kbtf.helpers
		p.maxID = kbtf.maxID
		p.btfNames = kbtf.helperNames
	}
	return kbtf, nil
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

// compile marshals every probe program the specs and ids need once, up front: workers then share
// the bytes instead of encoding the same program for every load.
func (p *Prober) compile(specs []*variantSpec) error {
	p.insns = map[progKey][]byte{}
	for _, s := range specs {
		for _, id := range p.ids {
			k := progKey{id, s.ret}
			if p.insns[k] != nil {
				continue
			}
			b, err := bpfasm.Marshal(bpfasm.ProbeProgramReturning(id, s.ret))
			if err != nil {
				return fmt.Errorf("probe: %w", err)
			}
			p.insns[k] = b
		}
	}
	return nil
}

// logVariants says which variants will be asked and why the others will not, before a run starts.
func (p *Prober) logVariants() {
	usable := 0
	for _, v := range p.variants {
		if v.info.Usable {
			usable++
		} else {
			fmt.Fprintf(p.opts.Log, "probe: %s/%s not probed: %s\n", v.spec.progType, v.spec.name, v.info.Reason)
		}
	}
	fmt.Fprintf(p.opts.Log, "probe: kernel %s, %d helper ids in BTF (__BPF_FUNC_MAX_ID %d), %d of %d variants load, %d ids to ask\n",
		p.facts.Kernel.Release, len(p.facts.BTFHelperIDs), p.maxID, usable, len(p.variants), len(p.ids))
}

// answerLoader returns a loader for the loads that answer (function, variant) pairs: they ask
// for the verifier's messages only (see logMessages), except in an exhaustive probe, the
// reference whose answers the planned ones must equal.
func (p *Prober) answerLoader() *loader {
	l := newLoader(p.logSize)
	if !p.opts.Exhaustive {
		l.logLevel = logMessages
	}
	return l
}

// Facts returns what New learned about the kernel and, after Run, what Run learned too and
// what its passes cost.
func (p *Prober) Facts() observation.Facts { return p.facts }

// Stats returns the costs of New and the last Run.
func (p *Prober) Stats() Stats { return p.stats }

func (p *Prober) addStats(l *loader) {
	p.stats.Loads += l.stats.loads
	p.stats.SignalRetries += l.stats.retries
	p.stats.LogRetries += l.stats.logRetries
	p.stats.MaxLogBytes = max(p.stats.MaxLogBytes, l.stats.maxLogBytes)
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
