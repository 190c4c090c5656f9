package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/bpfmatrix/bpfmatrix/internal/tempdir"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// RunDirPrefix starts the name of the temporary directory of each Run (in Config.WorkDir).
const RunDirPrefix = "bpfmatrix-"

// Run boots every kernel, at most cfg.Parallel at a time, and returns one Result per kernel in
// the order given. A kernel whose guest fails has a Result with Status failed; the others go on.
// When ctx is cancelled, running guests are stopped and marked interrupted, and kernels not yet
// started are left out (a nil entry). The error reports problems of the host only.
func Run(ctx context.Context, cfg Config, kernels []Kernel, progress func(Event)) ([]*Result, error) {
	if len(kernels) == 0 {
		return nil, errNoKernels
	}
	arch, err := runArch(kernels)
	if err != nil {
		return nil, err
	}
	q := NewQueue(arch)
	for _, k := range kernels {
		q.Push(k)
	}
	q.Close()
	return Stream(ctx, cfg, q, progress)
}

// Stream boots the kernels of q as they are pushed, at most cfg.Parallel at a time and the
// newest release waiting first, until q is closed and empty, and returns one Result per kernel
// in push order. Failures and cancellation are as for Run.
func Stream(ctx context.Context, cfg Config, q *Queue, progress func(Event)) ([]*Result, error) {
	m, err := machineFor(q.arch)
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	if err := cfg.check(m); err != nil {
		return nil, err
	}
	acc := newAccelerator(&cfg, m)
	cfg.TCGThread = tcgThreading(&cfg, q.guestsAtOnce(cfg.Parallel), runtime.NumCPU())
	// The directories of runs killed with SIGKILL (an initramfs and the guests' sockets and
	// consoles each, 40 MB a run with a large agent) go first; those of live runs stay.
	tempdir.Sweep(cfg.WorkDir, RunDirPrefix, 0)
	td, err := tempdir.New(cfg.WorkDir, RunDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	defer td.Remove()
	cfg.WorkDir = td.Path
	initrd := filepath.Join(td.Path, "initrd")
	if err := writeInitramfs(&cfg, initrd); err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	if progress != nil {
		// Callers print from it; one call at a time keeps their output whole.
		var mu sync.Mutex
		p := progress
		progress = func(e Event) { mu.Lock(); defer mu.Unlock(); p(e) }
	}
	return bootQueue(ctx, &cfg, q, acc, initrd, progress)
}

// bootQueue runs cfg.Parallel workers that boot what they take from q, and returns the results
// in push order once q is closed and empty (or ctx is done), with the first host error.
func bootQueue(ctx context.Context, cfg *Config, q *Queue, acc *accelerator, initrd string, progress func(Event)) ([]*Result, error) {
	var mu sync.Mutex
	results := map[int]*Result{}
	var firstErr error
	var wg sync.WaitGroup
	for w := 0; w < cfg.Parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				it, ok := q.take(ctx)
				if !ok {
					return
				}
				res, err := bootOne(ctx, cfg, q.arch, &it.k, acc, initrd, progress)
				mu.Lock()
				results[it.index] = res
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	out := make([]*Result, q.count())
	for i, r := range results {
		out[i] = r
	}
	return out, firstErr
}

// bootOne boots k, a kernel of a queue of arch: one of another architecture fails at once,
// since the run's /init cannot run on it.
func bootOne(ctx context.Context, cfg *Config, arch observation.Arch, k *Kernel, acc *accelerator, initrd string, progress func(Event)) (*Result, error) {
	if a := k.Arch; a != "" && a != arch {
		res := Failed(*k, fmt.Errorf("harness: kernel %s is built for %s, and this run's agent for %s: run each architecture on its own", k.Name, a, arch))
		if progress != nil {
			progress(Event{Kernel: k.Name, Phase: "done", Result: res})
		}
		return res, nil
	}
	return bootWithRetries(ctx, cfg, k, acc, initrd, progress)
}

// bootWithRetries boots a kernel up to 1+cfg.Retries times, until a guest succeeds. Each
// attempt's "done" event is held back: a failure that is retried becomes a "retry" event and an
// entry of FailedAttempts, and only the last attempt's "done" reaches progress, with every
// earlier failure attached, so that whoever writes results on "done" writes them whole.
func bootWithRetries(ctx context.Context, cfg *Config, k *Kernel, acc *accelerator, initrd string, progress func(Event)) (*Result, error) {
	var failed []observation.FailedAttempt
	for attempt := 0; ; {
		var held *Event
		p := func(e Event) {
			if e.Phase == "done" {
				held = &e
				return
			}
			if progress != nil {
				progress(e)
			}
		}
		accel := acc.get()
		res, err := boot(ctx, cfg, k, accel, initrd, p)
		if err == nil && acc.cannotRun(accel, res) {
			// Not the kernel's fault, and not an attempt: boot it again under TCG.
			if progress != nil {
				progress(Event{Kernel: k.Name, Phase: "retry", Result: res})
			}
			continue
		}
		last := attempt >= cfg.Retries
		if err != nil || res.OK() || res.Doc.Guest.Interrupted || ctx.Err() != nil || last {
			if res != nil {
				res.Doc.Guest.FailedAttempts = failed
			}
			if held != nil && progress != nil {
				held.Result = res
				progress(*held)
			}
			return res, err
		}
		failed = append(failed, observation.FailedAttempt{Error: res.Doc.Guest.Error, ConsoleTail: res.Doc.Guest.ConsoleTail})
		if progress != nil {
			progress(Event{Kernel: k.Name, Phase: "retry", Result: res})
		}
		attempt++
	}
}

// accelerator is the accelerator of a run. It starts as configured (or detected) and falls
// back to TCG, once for the whole run, when KVM turns out unable to run a guest: on a nested
// virtualization host /dev/kvm opens and creates VMs, yet every guest stops at once in run
// state "internal-error".
type accelerator struct {
	mu    sync.Mutex
	accel string
	// pinned is set when the user chose the accelerator: then nothing falls back.
	pinned bool
	log    func(string)
}

// newAccelerator is the accelerator of a run of m's guests: the configured one, else KVM when it
// works; always TCG for an architecture other than the host's, which KVM cannot run.
func newAccelerator(cfg *Config, m machine) *accelerator {
	acc := &accelerator{accel: cfg.Accel, pinned: cfg.Accel != "", log: cfg.Notice}
	if !m.canKVM() {
		if cfg.Accel == "kvm" && cfg.Notice != nil {
			cfg.Notice(fmt.Sprintf("%s guests cannot run under KVM on this %s host: using TCG", m.arch, HostArch()))
		}
		acc.accel, acc.pinned = "tcg", true
	}
	if acc.accel == "" {
		acc.accel = DetectAccel()
	}
	return acc
}

func (a *accelerator) get() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.accel
}

// cannotRun reports whether res shows that KVM cannot run guests here, and switches the run
// to TCG when so; only the first such guest logs it.
func (a *accelerator) cannotRun(accel string, res *Result) bool {
	if accel != "kvm" || a.pinned || res.OK() || res.Doc.Guest.BootSeconds > 0 ||
		!strings.Contains(res.Doc.Guest.Error, "run state internal-error") {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.accel == "kvm" {
		a.accel = "tcg"
		if a.log != nil {
			a.log(fmt.Sprintf("KVM cannot run guests on this host (kernel %s: %s): using TCG for this run", res.Kernel.Name, res.Doc.Guest.Error))
		}
	}
	return true
}

// versionKey parses the leading "MAJOR.MINOR.PATCH" of a kernel version into numbers; missing
// parts are -1, so an unknown version sorts last.
func versionKey(v string) [3]int {
	k := [3]int{-1, -1, -1}
	for i, part := range strings.SplitN(v, ".", 3) {
		digits := part
		if j := strings.IndexFunc(part, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
			digits = part[:j]
		}
		n, err := strconv.Atoi(digits)
		if err != nil {
			break
		}
		k[i] = n
	}
	return k
}

func (cfg *Config) check(m machine) error {
	switch {
	case cfg.Agent == "":
		return fmt.Errorf("harness: no agent binary")
	case m.qemu(cfg) == "":
		return fmt.Errorf("harness: no QEMU binary for %s guests", m.arch)
	case cfg.ConsoleTail <= 0:
		return fmt.Errorf("harness: console tail must be positive")
	}
	if err := cfg.Check(); err != nil {
		return fmt.Errorf("harness: %w", err)
	}
	return cfg.checkLoad()
}

// writeInitramfs writes the initramfs every guest of the run shares to name: the agent as init
// and, for a load run, the plan and its objects.
func writeInitramfs(cfg *Config, name string) error {
	files := []File{{Name: "/init", Source: cfg.Agent, Mode: 0o755}}
	if cfg.LoadPlan != nil {
		load, err := loadFiles(cfg, filepath.Dir(name))
		if err != nil {
			return err
		}
		files = append(files, load...)
	}
	fs := &Initramfs{Files: files, Compress: cfg.CompressInitramfs}
	return fs.WriteFile(name)
}
