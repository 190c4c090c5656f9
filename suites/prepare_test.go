package suites

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/bpfmatrix/bpfmatrix/internal/kfunctags"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/observe"
	"github.com/bpfmatrix/bpfmatrix/report"
	"github.com/bpfmatrix/bpfmatrix/verdict"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// preparedKernel is what one kernel's container checks: its observations judged, and the kfuncs
// its image's BTF tags. A kernel is prepared as soon as its guest is done, beside the other
// guests, or ahead of its container from its observation file: one after another inside the
// containers, reading, judging and decompressing the images took most of the suite's time after
// the guests, on one core of an idle machine.
type preparedKernel struct {
	k             report.Kernel
	verdicts      map[int]verdict.HelperVerdict
	kfuncVerdicts map[string]verdict.KfuncVerdict
	tagged        []string // the FUNCs the image's BTF tags bpf_kfunc
	tagsErr       error    // why the image's BTF could not be read
	err           error    // why the observations could not be read
	done          chan struct{}
}

// preparing holds the kernels' preparations, at most one per CPU at a time.
var preparing struct {
	mu     sync.Mutex
	byName map[string]*preparedKernel
	sem    chan struct{}
}

// startPrepare starts preparing the named kernel, once: from doc, its observation in memory, or
// (nil) from its observation file.
func startPrepare(name string, doc *observation.Document) *preparedKernel {
	preparing.mu.Lock()
	defer preparing.mu.Unlock()
	if preparing.byName == nil {
		preparing.byName = map[string]*preparedKernel{}
		preparing.sem = make(chan struct{}, runtime.NumCPU())
	}
	if p, ok := preparing.byName[name]; ok {
		return p
	}
	p := &preparedKernel{done: make(chan struct{})}
	preparing.byName[name] = p
	go func() {
		preparing.sem <- struct{}{}
		defer func() {
			<-preparing.sem
			close(p.done)
		}()
		p.prepare(name, doc)
	}()
	return p
}

// prepared returns the named kernel's preparation, waiting for it. The selected kernels not
// prepared yet (their guests ran in another process, or the run ended before them) are started
// from their files first, in the containers' order.
func prepared(name string) *preparedKernel {
	for _, n := range selectedKernels() {
		startPrepare(n, nil)
	}
	p := startPrepare(name, nil)
	<-p.done
	return p
}

// prepare judges the kernel's observations (doc, or its file when doc is nil) and, for a kernel
// that did not fail, reads the kfunc tags of its image.
func (p *preparedKernel) prepare(name string, doc *observation.Document) {
	var err error
	if doc == nil {
		if doc, err = observation.ReadFile(filepath.Join(observationsDir(), observe.FileName(name, cfg.arch))); err != nil {
			p.err = err
			return
		}
	}
	if p.k, err = report.FromDocument(name, "kernel "+name, doc); err != nil {
		p.err = err
		return
	}
	p.k = judged(p.k)
	if p.k.Failed {
		return
	}
	p.verdicts = map[int]verdict.HelperVerdict{}
	for _, hv := range verdict.Judge(cfg.registry, cfg.provenance, []verdict.Kernel{p.k.Kernel}) {
		p.verdicts[hv.ID] = hv
	}
	p.kfuncVerdicts = map[string]verdict.KfuncVerdict{}
	for _, kv := range verdict.JudgeKfuncs(cfg.kfuncs, []verdict.Kernel{p.k.Kernel}) {
		p.kfuncVerdicts[kv.Name] = kv
	}
	spec, err := vmimages.ImageBTF(context.Background(), "", p.k.SHA256)
	if err != nil {
		p.tagsErr = err
		return
	}
	p.tagged, p.tagsErr = kfunctags.Tagged(spec)
}
