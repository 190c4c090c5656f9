package observe

import (
	"context"
	"errors"
	"fmt"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// LoadObject is one of a user's BPF objects to load in every kernel (`bpfmatrix load`).
type LoadObject struct {
	// Path is the object's file on the host.
	Path string
	// Name is the object's name as the user gave it; the answers carry it.
	Name string
	// SHA256 is the hex SHA-256 of the file: answers are cached by it.
	SHA256 string
}

// LoadOptions says which kernels to boot and which objects to load in them. Options.Harness's
// ProgTypes, Helpers and Kfuncs do not apply; Options.Refresh boots every kernel for every
// object (and stores what it answers).
type LoadOptions struct {
	Options
	// Objects are the objects to load, each program on its own, all in the same boot.
	Objects []LoadObject
	// Set holds the user's --set words, checked by the caller; Attach asks the guests to
	// attach what loaded (wire.LoadPlan).
	Set    []string
	Attach bool
}

// LoadObservation is what one kernel answered for the objects of a load run.
type LoadObservation struct {
	// Name is the kernel's name in kernels.yaml; Image the build it is (version and hash).
	Name  string
	Image observation.Image
	// Loads holds one answer per (object, program): the objects in the order given (an
	// object given twice answers twice), each object's programs in the guest's order. A
	// failed kernel keeps the answers it had from the cache and those its guest sent before it
	// failed.
	Loads []observation.ProgramLoad
	// Cached is true when every answer came from the cache and no guest was booted.
	Cached bool
	// Failed is true when the kernel could not be fetched or its guest failed.
	Failed bool
	// Guest is the guest block of the boot that answered (for a kernel answered from the
	// cache, that of a cached answer); it says why a failed kernel failed.
	Guest *observation.Guest
}

// loadRun is the state of one Load: the pipeline's, the objects once each, what the cache
// held for each kernel, and the kernels finished.
type loadRun struct {
	*pipeline
	opts LoadOptions
	// objs are the distinct objects (by cache key) and pick the index in objs of each
	// object of opts.Objects.
	objs []LoadObject
	pick []int
	// cached[kernel][j] is the cached answer of objs[j] on the kernel, nil when not cached;
	// planned lists the objs in the load plan (those some booted kernel lacks), in order.
	cached  map[string][]*observation.Document
	planned []int

	loads finished[LoadObservation]
}

// Load loads the objects of opts in every selected kernel and returns one LoadObservation per
// kernel, in kernels.yaml order. Like Run, it fetches the images, takes what it can from the
// cache, and boots each remaining kernel once, with every object that is not cached for some
// kernel to boot; each object's answers are cached per (image, agent, object, --set and
// attach words) (LoadKey), so a second run with one more object boots for that one only. A
// kernel that cannot be fetched or whose guest fails is Failed; when ctx is cancelled, the
// kernels not finished are failed ("not run"). The error is for problems of every kernel.
func Load(ctx context.Context, opts LoadOptions) ([]LoadObservation, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	p, err := newPipeline(opts.Options)
	if err != nil {
		return nil, err
	}
	defer p.close()
	r := &loadRun{pipeline: p, opts: opts, cached: map[string][]*observation.Document{}}
	r.distinct()
	p.startAgent(ctx)
	images, err := p.fetch(ctx, r.failKernel, nil)
	if err != nil {
		return nil, err
	}
	if len(images) > 0 {
		// The agent's hash is half of every key, read or stored.
		if err := p.needAgent(ctx); err != nil {
			return nil, err
		}
	}
	if boot := r.fromCache(images); len(boot) > 0 {
		if err := p.boot(ctx, r.harnessConfig(), p.queueOf(boot), r.guestDone); err != nil {
			return nil, err
		}
	}
	return r.collect(ctx), nil
}

func (o *LoadOptions) check() error {
	if len(o.Objects) == 0 {
		return errors.New("observe: no objects to load")
	}
	for i, obj := range o.Objects {
		if obj.Path == "" || obj.Name == "" || len(obj.SHA256) != 64 {
			return fmt.Errorf("observe: object %d (%q): want a path, a name and a hex SHA-256", i+1, obj.Name)
		}
	}
	return nil
}

// distinct lists each object once per cache key: the same file given twice is loaded once.
func (r *loadRun) distinct() {
	seen := map[[2]string]int{}
	for _, obj := range r.opts.Objects {
		k := r.key("", obj)
		j, ok := seen[[2]string{k.Object, k.Name}]
		if !ok {
			j = len(r.objs)
			seen[[2]string{k.Object, k.Name}] = j
			r.objs = append(r.objs, obj)
		}
		r.pick = append(r.pick, j)
	}
}

func (r *loadRun) key(image string, obj LoadObject) LoadKey {
	return loadKey(image, r.agentSum, obj, r.opts.Set, r.opts.Attach)
}

// fromCache reads each object's cached answers on each kernel, finishes the kernels that have
// them all, and returns the others; the objects missing on any of them make the load plan.
func (r *loadRun) fromCache(images []vmimages.Image) []vmimages.Image {
	var boot []vmimages.Image
	missing := make([]bool, len(r.objs))
	for _, img := range images {
		docs := make([]*observation.Document, len(r.objs))
		hits := 0
		for j, obj := range r.objs {
			if r.opts.Refresh {
				break
			}
			doc, err := r.cache.GetLoad(r.key(img.SHA256, obj))
			if err != nil {
				r.event(Event{Kernel: img.Name, Phase: PhaseNote, Message: err.Error()})
			}
			if docs[j] = doc; doc != nil {
				hits++
			}
		}
		r.cached[img.Name] = docs
		if hits == len(r.objs) {
			r.finishCached(img, docs)
			continue
		}
		for j, d := range docs {
			missing[j] = missing[j] || d == nil
		}
		if hits > 0 {
			r.event(Event{Kernel: img.Name, Phase: PhaseCached, Message: fmt.Sprintf("%d of %d objects from the cache", hits, len(r.objs))})
		}
		boot = append(boot, img)
	}
	for j, m := range missing {
		if m {
			r.planned = append(r.planned, j)
		}
	}
	return boot
}

// harnessConfig is the pipeline's harness configuration with the load plan of the objects to
// boot.
func (r *loadRun) harnessConfig() harness.Config {
	hcfg := r.hcfg
	hcfg.LoadPlan = &wire.LoadPlan{Set: r.opts.Set, Attach: r.opts.Attach}
	hcfg.LoadObjects = nil
	for _, j := range r.planned {
		obj := r.objs[j]
		hcfg.LoadPlan.Objects = append(hcfg.LoadPlan.Objects, wire.LoadObject{Name: obj.Name, SHA256: obj.SHA256})
		hcfg.LoadObjects = append(hcfg.LoadObjects, obj.Path)
	}
	return hcfg
}

// finishCached finishes a kernel whose every object was cached.
func (r *loadRun) finishCached(img vmimages.Image, docs []*observation.Document) {
	guest := *docs[0].Guest
	// Keyed by the image's hash: the image's other facts are the same build's.
	guest.Image = HarnessKernel(img).Image
	o := &LoadObservation{Name: img.Name, Image: guest.Image, Cached: true, Guest: &guest}
	o.Loads = r.assemble(func(j int) []observation.ProgramLoad { return docs[j].Loads })
	r.finish(o)
}

// guestDone finishes the kernel of a guest that ended. An object cached for this kernel keeps
// its cached answer (the plan holds every object some kernel lacks, so a guest may load an
// object its kernel had cached: one answer per key, whatever the run); the others come from
// the guest, and are cached when it was ok. A guest that failed keeps the answers it sent before
// it failed (each is the kernel's word on one program, loaded on its own), uncached; the kernel
// is still failed, and the programs it did not answer have no answer.
func (r *loadRun) guestDone(res *harness.Result) {
	o := &LoadObservation{Name: res.Kernel.Name, Image: res.Kernel.Image, Guest: res.Doc.Guest, Failed: !res.OK()}
	cached := r.cached[o.Name]
	booted := map[int][]observation.ProgramLoad{}
	for _, j := range r.planned {
		if cached[j] == nil {
			booted[j] = r.answersOf(j, res.Doc.Loads)
			if res.OK() {
				r.store(res, j, booted[j])
			}
		}
	}
	o.Loads = r.assemble(func(j int) []observation.ProgramLoad {
		if cached[j] != nil {
			return cached[j].Loads
		}
		return booted[j]
	})
	r.finish(o)
}

// answersOf picks the answers of objs[j] from a guest's loads.
func (r *loadRun) answersOf(j int, loads []observation.ProgramLoad) []observation.ProgramLoad {
	obj, byName := r.objs[j], namesObject(r.opts.Set)
	var out []observation.ProgramLoad
	for _, l := range loads {
		if l.ObjectSHA256 == obj.SHA256 && (!byName || l.Object == obj.Name) {
			out = append(out, l)
		}
	}
	return out
}

// store caches one object's answers from an ok guest. An object with no answer (no program)
// or answers that would not read back is not stored: the cache never holds what it refuses.
func (r *loadRun) store(res *harness.Result, j int, loads []observation.ProgramLoad) {
	if len(loads) == 0 {
		return
	}
	doc := &observation.Document{Facts: res.Doc.Facts, Guest: res.Doc.Guest, Loads: loads}
	err := checkDoc(doc)
	if err == nil {
		err = r.cache.PutLoad(r.key(res.Kernel.SHA256, r.objs[j]), doc)
	}
	if err != nil {
		r.event(Event{Kernel: res.Kernel.Name, Phase: PhaseNote, Message: fmt.Sprintf("%s not cached: %v", r.objs[j].Name, err)})
	}
}

// checkDoc checks that doc reads back as observation.Parse reads cache entries.
func checkDoc(doc *observation.Document) error {
	data, err := observation.Encode(doc)
	if err == nil {
		_, err = observation.Parse("answer", data)
	}
	return err
}

// assemble lists the answers of every object given, in the order given, each under the name
// it was given (a file given twice under two names was loaded once).
func (r *loadRun) assemble(of func(j int) []observation.ProgramLoad) []observation.ProgramLoad {
	var out []observation.ProgramLoad
	for i, j := range r.pick {
		for _, l := range of(j) {
			l.Object = r.opts.Objects[i].Name
			out = append(out, l)
		}
	}
	return out
}

// failKernel finishes a kernel as failed for why, as pipeline.failKernel does for Run.
func (r *loadRun) failKernel(name string, why error) {
	r.finish(failedLoad(harness.Kernel{Name: name}, why))
}

func failedLoad(k harness.Kernel, why error) *LoadObservation {
	res := harness.Failed(k, why)
	return &LoadObservation{Name: k.Name, Image: k.Image, Failed: true, Guest: res.Doc.Guest}
}

// finish records a kernel's final answers and reports them.
func (r *loadRun) finish(o *LoadObservation) {
	r.loads.put(o.Name, o)
	r.event(Event{Kernel: o.Name, Phase: PhaseDone, Message: loadDoneMessage(o), Results: len(o.Loads), Failed: o.Failed, Load: o})
}

// collect returns every kernel's answers in kernels.yaml order; a kernel that has none (the
// run was cancelled before its turn) is failed with the reason.
func (r *loadRun) collect(ctx context.Context) []LoadObservation {
	return r.loads.inOrder(ctx, r.entries, r.failKernel)
}

// loadDoneMessage is the one-line summary of a kernel finished by Load.
func loadDoneMessage(o *LoadObservation) string {
	g := o.Guest
	refused := 0
	for _, l := range o.Loads {
		if !l.Loaded {
			refused++
		}
	}
	switch {
	case o.Failed:
		return "failed: " + firstLine(g.Error)
	case o.Cached:
		return fmt.Sprintf("%d programs from the cache, %d refused (image %.12s)", len(o.Loads), refused, o.Image.SHA256)
	}
	return fmt.Sprintf("%d programs, %d refused, boot %.1fs + load %.1fs (%s, %s)", len(o.Loads), refused, g.BootSeconds, g.ProbeSeconds, g.Accel, g.Release)
}
