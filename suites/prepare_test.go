package suites

import (
	"context"
	"fmt"
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

// preparedKernel is what one kernel's container checks: its observations read and judged, and
// the kfuncs its image's BTF tags. Kernels are prepared ahead of their containers, on every
// core: one after another inside the containers, reading, judging and decompressing the
// images took most of the suite's time after the guests, on one core of an idle machine.
type preparedKernel struct {
	k             report.Kernel
	verdicts      map[int]verdict.HelperVerdict
	kfuncVerdicts map[string]verdict.KfuncVerdict
	tagged        []string // the FUNCs the image's BTF tags bpf_kfunc
	tagsErr       error    // why the image's BTF could not be read
	err           error    // why the observations could not be read
	done          chan struct{}
}

// preparing holds every selected kernel's preparation, started by the first container.
var preparing struct {
	once   sync.Once
	byName map[string]*preparedKernel
}

// prepared returns the named kernel's preparation, waiting for it; the first call starts all
// of them, in the containers' order.
func prepared(name string) *preparedKernel {
	preparing.once.Do(func() { startPreparing(selectedKernels()) })
	p, ok := preparing.byName[name]
	if !ok {
		return &preparedKernel{err: fmt.Errorf("kernel %s is not selected", name)}
	}
	<-p.done
	return p
}

// startPreparing prepares the kernels on as many workers as there are CPUs, in order.
func startPreparing(names []string) {
	preparing.byName = map[string]*preparedKernel{}
	queue := make(chan string, len(names))
	for _, n := range names {
		preparing.byName[n] = &preparedKernel{done: make(chan struct{})}
		queue <- n
	}
	close(queue)
	for range min(runtime.NumCPU(), len(names)) {
		go func() {
			for n := range queue {
				p := preparing.byName[n]
				p.prepare(n)
				close(p.done)
			}
		}()
	}
}

// prepare reads and judges the kernel's observations and, for a kernel that did not fail, reads
// the kfunc tags of its image.
func (p *preparedKernel) prepare(name string) {
	doc, err := observation.ReadFile(filepath.Join(observationsDir(), observe.FileName(name, cfg.arch)))
	if err != nil {
		p.err = err
		return
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
