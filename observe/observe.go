// Package observe gets each kernel's observations: from the observation cache when the same
// kernel image was already probed by the same agent, otherwise by fetching the kernel and booting
// it in a QEMU guest. It is the one pipeline behind `bpfmatrix run`, `bpfmatrix verify`, the
// Ginkgo suite and `make bench`, so all of them agree on what was observed, reuse each other's
// work and report progress the same way.
package observe

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/tempdir"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// Options says which kernels to observe and how.
type Options struct {
	// KernelsFile is the kernels.yaml to read.
	KernelsFile string
	// Kernels names the kernels to observe; empty means every kernel of KernelsFile.
	Kernels []string
	// CacheDir holds kernel images and cached observations; empty means vmimages.DefaultCacheDir().
	CacheDir string
	// Offline forbids downloads (kernels must be pinned in kernels.lock and cached).
	Offline bool
	// Arch is the architecture of the kernel builds to observe; empty means amd64. One run
	// observes one architecture: the images, the QEMU machine and the agent build follow it.
	Arch observation.Arch
	// Refresh ignores cached observations and boots every kernel; what it observes is still
	// stored in the cache.
	Refresh bool
	// Harness configures the guests. An empty Agent is found or built for Arch
	// (harness.AgentBinary) in a temporary directory that Run removes.
	Harness harness.Config
	// OnEvent receives every step as it happens (fetches, cache hits, guests booting and
	// probing, finished kernels), one call at a time; nil discards them.
	OnEvent func(Event)
	// NeedQEMU, when set, is called before the first guest boots; its error ends the run (QEMU
	// missing, say) while runs that are answered from the cache never call it.
	NeedQEMU func() error
}

// Observation is one kernel's observations and how they were obtained.
type Observation struct {
	// Name is the kernel's name in kernels.yaml.
	Name string
	// Doc is the kernel's document; its guest block is always set.
	Doc *observation.Document
	// Cached is true when Doc came from the cache and no guest was booted.
	Cached bool
	// Failed is true when the kernel could not be fetched or its guest failed.
	Failed bool
}

// Arch returns the architecture the observed kernel was built for, as its document says
// (amd64 when it names none).
func (o Observation) Arch() observation.Arch { return observation.ArchOf(o.Doc) }

// Label names the observation where builds of several architectures meet: its Name for amd64,
// <name>-<arch> otherwise (observation.KernelLabel).
func (o Observation) Label() string { return observation.KernelLabel(o.Name, o.Arch()) }

// pipeline is the state of one Run.
type pipeline struct {
	opts    Options
	cache   Cache
	entries []vmimages.Entry
	hcfg    harness.Config
	arch    observation.Arch
	// agentSum is the agent binary's hash, the second half of the cache key (the agent is built
	// for the run's architecture, so an arm64 observation is never stored under an amd64 key,
	// besides the kernel images' hashes differing); agentReady is
	// closed when findAgent has set it or agentErr, and stopAgent cancels a build still running.
	agentSum   string
	agentErr   error
	agentReady chan struct{}
	stopAgent  context.CancelFunc
	cleanup    []func()

	done finished[Observation]
}

// Run observes the selected kernels and returns one Observation per kernel, in kernels.yaml
// order. A kernel that cannot be fetched or whose guest fails is an Observation with Failed set
// and the reason in its guest block; the others are unaffected. When ctx is cancelled, the
// kernels finished so far keep their observations and the others are failed ("not run"). The
// error reports problems that concern every kernel (a bad kernels.yaml, no QEMU, no agent).
func Run(ctx context.Context, opts Options) ([]Observation, error) {
	p, err := newPipeline(opts)
	if err != nil {
		return nil, err
	}
	defer p.close()
	p.startAgent(ctx)
	ready := make(chan vmimages.Image, len(p.entries))
	fetched := make(chan error, 1)
	go func() {
		_, err := p.fetch(ctx, p.failKernel, func(img vmimages.Image) { ready <- img })
		close(ready)
		fetched <- err
	}()
	bootErr := p.bootReady(ctx, ready)
	if err := <-fetched; err != nil {
		return nil, err
	}
	if bootErr != nil {
		return nil, bootErr
	}
	return p.collect(ctx), nil
}

// bootReady takes each image as it becomes ready: it finishes it from the cache when an
// observation of the image by this agent is there (unless Refresh), and else boots it at once,
// beside the downloads still running; it returns when ready is closed and every guest ended.
func (p *pipeline) bootReady(ctx context.Context, ready <-chan vmimages.Image) error {
	var (
		mu     sync.Mutex
		q      *harness.Queue
		booted = make(chan error, 1)
		wg     sync.WaitGroup
	)
	enqueue := func(img vmimages.Image) {
		mu.Lock()
		defer mu.Unlock()
		if q == nil {
			q = harness.NewQueue(p.arch)
			go func() { booted <- p.boot(ctx, p.hcfg, q, p.guestDone) }()
		}
		q.Push(HarnessKernel(img))
	}
	var agentErr error
	for img := range ready {
		if p.opts.Refresh {
			enqueue(img)
			continue
		}
		if agentErr = p.needAgent(ctx); agentErr != nil {
			continue // the fetch goes on to its end; nothing is booted
		}
		wg.Add(1)
		go func() {
			// Cache entries are read in parallel: with every kernel cached, that is most of
			// what a registry check costs.
			defer wg.Done()
			if !p.fromCache(img) {
				enqueue(img)
			}
		}()
	}
	wg.Wait()
	if q == nil {
		return agentErr
	}
	q.Close()
	return errors.Join(agentErr, <-booted)
}

func newPipeline(opts Options) (*pipeline, error) {
	entries, err := opts.entries()
	if err != nil {
		return nil, err
	}
	if opts.CacheDir == "" {
		if opts.CacheDir, err = vmimages.DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	if opts.OnEvent != nil {
		// Fetches and guests report from their own goroutines; displays want one at a time.
		var mu sync.Mutex
		f := opts.OnEvent
		opts.OnEvent = func(e Event) { mu.Lock(); defer mu.Unlock(); f(e) }
	}
	return &pipeline{
		opts: opts, entries: entries, hcfg: opts.Harness, arch: opts.arch(),
		cache: Cache{Dir: filepath.Join(opts.CacheDir, "observations")},
	}, nil
}

func (p *pipeline) close() {
	if p.agentReady != nil {
		p.stopAgent()
		<-p.agentReady
	}
	for _, f := range p.cleanup {
		f()
	}
}

func (p *pipeline) event(e Event) {
	if p.opts.OnEvent != nil {
		p.opts.OnEvent(e)
	}
}

// finish records a kernel's final observation and reports it.
func (p *pipeline) finish(o *Observation) {
	p.done.put(o.Name, o)
	p.event(Event{Kernel: o.Name, Phase: PhaseDone, Message: doneMessage(o), Results: len(o.Doc.Results), Failed: o.Failed, Observation: o})
}

// failKernel finishes a kernel as failed for why: its image could not be had, or the run ended
// before its turn.
func (p *pipeline) failKernel(name string, why error) {
	p.finish(failedObservation(p.kernel(name), why))
}

// kernel is the harness kernel of a name before (or without) its image: a failed kernel's
// document still says its architecture, and is written under its architecture's file name.
func (p *pipeline) kernel(name string) harness.Kernel {
	return harness.Kernel{Name: name, Image: observation.Image{Arch: docArch(p.arch)}}
}

// fetch makes the kernels' images available, handing each to onImage (when set) as soon as it
// is ready. A kernel whose image cannot be had is handed to failed; the error is for problems of
// every kernel (a kernels.lock that cannot be read).
func (p *pipeline) fetch(ctx context.Context, failed func(name string, err error), onImage func(vmimages.Image)) ([]vmimages.Image, error) {
	// The fetcher hands out builds of p.arch only: it fails an image cached as another's.
	fetcher := &vmimages.Fetcher{CacheDir: p.opts.CacheDir, Offline: p.opts.Offline, Arch: p.arch, OnImage: onImage,
		OnStep: func(s vmimages.Step) {
			if !s.Done || s.Err == nil {
				p.event(fetchEvent(s))
			}
		}}
	images, err := fetcher.Fetch(ctx, fetchOrder(p.entries))
	p.inEntryOrder(images)
	var fe *vmimages.FetchError
	if err != nil && !errors.As(err, &fe) {
		return nil, err
	}
	if fe != nil {
		for i, name := range fe.Kernels {
			if name == "(all)" {
				// The images are there; only the lock could not be written.
				p.event(Event{Phase: PhaseNote, Message: fe.Errs[i].Error()})
				continue
			}
			failed(name, fmt.Errorf("kernel image: %w", fe.Errs[i]))
		}
	}
	return images, nil
}

// fetchOrder is entries with the newest series first (the lock keeps kernels.yaml's order, and
// fetch puts the images back in it): guests start as images become ready, and the newest
// kernels take the longest to probe, so they had better start first.
func fetchOrder(entries []vmimages.Entry) []vmimages.Entry {
	out := slices.Clone(entries)
	slices.SortStableFunc(out, func(a, b vmimages.Entry) int {
		va, ea := vmimages.ParseDebianVersion(a.Name)
		vb, eb := vmimages.ParseDebianVersion(b.Name)
		if ea != nil || eb != nil {
			return 0 // a local image's name says nothing of its age
		}
		return vb.Compare(va)
	})
	return out
}

// inEntryOrder sorts images as their entries are in kernels.yaml.
func (p *pipeline) inEntryOrder(images []vmimages.Image) {
	at := map[string]int{}
	for i, e := range p.entries {
		at[e.Name] = i
	}
	slices.SortStableFunc(images, func(a, b vmimages.Image) int { return at[a.Name] - at[b.Name] })
}

// agentDirPrefix starts the name of the temporary directory an agent is built in.
const agentDirPrefix = "bpfmatrix-agent-"

// startAgent begins finding or building the agent binary and hashing it, so that a cold run
// builds it while the kernels download: a fresh machine's Go build cache is empty, and the build
// takes tens of seconds that the downloads, waiting on the network, leave the CPU for.
func (p *pipeline) startAgent(ctx context.Context) {
	if p.agentReady != nil {
		return
	}
	ctx, p.stopAgent = context.WithCancel(ctx)
	p.agentReady = make(chan struct{})
	go func() {
		defer close(p.agentReady)
		p.agentErr = p.findAgent(ctx)
	}()
}

// needAgent waits for the agent binary and its hash (starting on them if nothing has).
func (p *pipeline) needAgent(ctx context.Context) error {
	p.startAgent(ctx)
	<-p.agentReady
	return p.agentErr
}

// findAgent finds or builds the agent binary and hashes it.
func (p *pipeline) findAgent(ctx context.Context) error {
	if p.hcfg.Agent == "" {
		// Agent builds of runs killed with SIGKILL go first (harness.Run sweeps its own).
		tempdir.Sweep("", agentDirPrefix, 0)
		td, err := tempdir.New("", agentDirPrefix)
		if err != nil {
			return fmt.Errorf("observe: agent: %w", err)
		}
		p.cleanup = append(p.cleanup, func() { td.Remove() })
		if p.hcfg.Agent, err = harness.AgentBinary(ctx, td.Path, p.arch); err != nil {
			return fmt.Errorf("observe: agent: %w", err)
		}
	}
	sum, err := files.SHA256(ctx, p.hcfg.Agent)
	if err != nil {
		return fmt.Errorf("observe: agent: %w", err)
	}
	p.agentSum = sum
	return nil
}

// fromCache finishes img's kernel from the cache when it holds an observation of the image by
// this agent, and reports whether it did.
func (p *pipeline) fromCache(img vmimages.Image) bool {
	doc, err := p.cache.Get(img.SHA256, p.agentSum)
	if err != nil {
		p.event(Event{Kernel: img.Name, Phase: PhaseNote, Message: err.Error()})
	}
	if doc == nil {
		return false
	}
	// The cache is keyed by the image's hash: the image's other facts are the same build's,
	// and fill what an entry stored by an older bpfmatrix lacks.
	doc.Guest.Image = HarnessKernel(img).Image
	p.finish(&Observation{Name: img.Name, Doc: doc, Cached: true})
	return true
}

// boot runs the guests of the kernels of q with hcfg and hands each kernel's result to done as
// its guest ends (done finishes the kernel and stores what an ok guest observed in the cache).
func (p *pipeline) boot(ctx context.Context, hcfg harness.Config, q *harness.Queue, done func(*harness.Result)) error {
	if p.opts.NeedQEMU != nil {
		if err := p.opts.NeedQEMU(); err != nil {
			return err
		}
	}
	if err := p.needAgent(ctx); err != nil {
		return err
	}
	hcfg.Agent = p.hcfg.Agent // needAgent may just have found or built it
	hcfg.Notice = func(msg string) { p.event(Event{Phase: PhaseNote, Message: msg}) }
	start := time.Now()
	p.event(Event{Phase: PhaseNote, Message: "booting kernels as their images are ready, " + harness.Layout(hcfg)})
	results, err := harness.Stream(ctx, hcfg, q, func(e harness.Event) {
		if e.Phase == "done" {
			done(e.Result)
			return
		}
		if ev, ok := guestEvent(e, hcfg.LoadPlan != nil); ok {
			p.event(ev)
		}
	})
	if err != nil {
		return err
	}
	p.event(Event{Phase: PhaseNote, Message: fmt.Sprintf("%d guest(s) done in %.1fs", len(results), time.Since(start).Seconds())})
	return nil
}

// queueOf is a closed queue of the images' kernels.
func (p *pipeline) queueOf(images []vmimages.Image) *harness.Queue {
	q := harness.NewQueue(p.arch)
	for _, img := range images {
		q.Push(HarnessKernel(img))
	}
	q.Close()
	return q
}

// guestDone finishes the kernel of a guest that ended.
func (p *pipeline) guestDone(r *harness.Result) {
	o := &Observation{Name: r.Kernel.Name, Doc: &r.Doc, Failed: !r.OK()}
	// A probe narrowed to some types, helpers or kfuncs is not the kernel's observation: it
	// must not answer a later registry check from the cache. An exhaustive one answers the
	// same, but the cache keeps what the agent's own plan gives.
	h := p.hcfg
	if r.OK() && len(h.ProgTypes) == 0 && len(h.Helpers) == 0 && len(h.Kfuncs) == 0 && !h.Exhaustive {
		if err := p.cache.Put(r.Kernel.SHA256, p.agentSum, o.Doc); err != nil {
			p.event(Event{Kernel: o.Name, Phase: PhaseNote, Message: err.Error()})
		}
	}
	p.finish(o)
}

// collect returns every kernel's observation in kernels.yaml order; a kernel that has none
// (the run was cancelled before its turn) is failed with the reason.
func (p *pipeline) collect(ctx context.Context) []Observation {
	return p.done.inOrder(ctx, p.entries, p.failKernel)
}

// missing says why a kernel has no observation at the end of a run.
func missing(ctx context.Context) error {
	if ctx.Err() != nil {
		return fmt.Errorf("not run: %w", context.Cause(ctx))
	}
	return errors.New("no image and no result")
}

// HarnessKernel describes a fetched kernel image to the harness.
func HarnessKernel(img vmimages.Image) harness.Kernel {
	return harness.Kernel{
		Name: img.Name, Path: img.Path, Modules: img.Modules, KfuncModules: img.KfuncModules, Config: img.ConfigPath,
		Image: observation.Image{SHA256: img.SHA256, Package: img.Package, Version: img.Version, DebianVersion: img.DebianVersion,
			Arch: docArch(img.Arch)},
	}
}

// failedObservation is the observation of a kernel that produced nothing: its guest block
// says why.
func failedObservation(k harness.Kernel, why error) *Observation {
	r := harness.Failed(k, why)
	return &Observation{Name: k.Name, Doc: &r.Doc, Failed: true}
}

// WriteDir writes each observation to dir/<name>.json (FileName: <name>-arm64.json for an arm64
// kernel), the layout `bpfmatrix report --in` reads, and returns the paths.
func WriteDir(dir string, obs []Observation) ([]string, error) {
	var paths []string
	for _, o := range obs {
		p, err := WriteFile(dir, o)
		if err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// WriteFile writes one observation to dir/<name>.json (FileName, after the architecture its
// guest block names) through a temporary file, so that an interrupted run never leaves half a
// document behind, and returns the path.
func WriteFile(dir string, o Observation) (string, error) {
	if err := files.MakeDir(dir); err != nil {
		return "", err
	}
	data, err := observation.Encode(o.Doc)
	if err != nil {
		return "", fmt.Errorf("kernel %s: %w", o.Name, err)
	}
	p := filepath.Join(dir, FileName(o.Name, o.Arch()))
	if err := files.WriteAtomic(p, append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("kernel %s: %w", o.Name, err)
	}
	return p, nil
}

// CheckOutDir refuses, before any kernel is observed, a dir that WriteFile could not write the
// observations of the named kernels of arch (empty: amd64) into: a path that is there but is not
// a directory, or a document file in it (FileName) that is not a regular file (a device, a
// FIFO). The error wraps files.ErrRefused. It creates dir when missing.
func CheckOutDir(dir string, arch observation.Arch, names []string) error {
	if err := files.MakeDir(dir); err != nil {
		return err
	}
	for _, n := range names {
		if err := files.CheckTarget(filepath.Join(dir, FileName(n, arch))); err != nil {
			return fmt.Errorf("kernel %s: %w", n, err)
		}
	}
	return nil
}

// entries loads the kernels file of o and picks the entries of the kernels o names, for o's
// architecture.
func (o Options) entries() ([]vmimages.Entry, error) {
	cfg, err := vmimages.LoadConfig(o.KernelsFile)
	if err != nil {
		return nil, err
	}
	return selectEntries(cfg, o.arch(), o.Kernels)
}

// arch is o.Arch, or amd64 when it is empty.
func (o Options) arch() observation.Arch {
	if o.Arch == "" {
		return observation.DefaultArch
	}
	return o.Arch
}

// Select checks the kernels file and the kernel names of opts and returns the names Run would
// observe, so that a command can refuse a bad name before anything is fetched.
func (o Options) Select() ([]string, error) {
	entries, err := o.entries()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		if err := e.CheckFiles(); err != nil {
			return nil, err
		}
		names[i] = e.Name
	}
	return names, nil
}
