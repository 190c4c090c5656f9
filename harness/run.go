package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Run boots every kernel, at most cfg.Parallel at a time, and returns one Result per kernel in
// the order given. A kernel whose guest fails has a Result with Status failed; the others go on.
// When ctx is cancelled, running guests are stopped and marked interrupted, and kernels not yet
// started are left out (a nil entry). The error reports problems of the host only.
func Run(ctx context.Context, cfg Config, kernels []Kernel, progress func(Event)) ([]*Result, error) {
	if len(kernels) == 0 {
		return nil, errNoKernels
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	accel := cfg.Accel
	if accel == "" {
		accel = DetectAccel()
	}
	dir, err := os.MkdirTemp(cfg.WorkDir, "bpfmatrix-")
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg.WorkDir = dir
	initrd := filepath.Join(dir, "initrd")
	fs := &Initramfs{Files: []File{{Name: "/init", Source: cfg.Agent, Mode: 0o755}}, Compress: cfg.CompressInitramfs}
	if err := fs.WriteFile(initrd); err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}

	if progress != nil {
		// Callers print from it; one call at a time keeps their output whole.
		var mu sync.Mutex
		p := progress
		progress = func(e Event) { mu.Lock(); defer mu.Unlock(); p(e) }
	}
	results := make([]*Result, len(kernels))
	errs := make([]error, len(kernels))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < cfg.Parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = bootWithRetries(ctx, &cfg, &kernels[i], accel, initrd, progress)
			}
		}()
	}
feed:
	for _, i := range schedule(kernels) {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

// bootWithRetries boots a kernel up to 1+cfg.Retries times, until a guest succeeds. Only the
// last attempt's "done" event reaches progress; each failure before it is a "retry" event, and
// the result keeps it in FailedAttempts.
func bootWithRetries(ctx context.Context, cfg *Config, k *Kernel, accel, initrd string, progress func(Event)) (*Result, error) {
	var failed []FailedAttempt
	for attempt := 0; ; attempt++ {
		last := attempt >= cfg.Retries
		var held *Event
		p := progress
		if progress != nil && !last {
			p = func(e Event) {
				if e.Phase == "done" {
					held = &e
					return
				}
				progress(e)
			}
		}
		res, err := boot(ctx, cfg, k, accel, initrd, p)
		if err != nil || res.OK() || res.Guest.Interrupted || ctx.Err() != nil || last {
			if res != nil {
				res.Guest.FailedAttempts = failed
			}
			if held != nil && progress != nil {
				held.Result = res
				progress(*held)
			}
			return res, err
		}
		failed = append(failed, FailedAttempt{Error: res.Guest.Error, ConsoleTail: res.Guest.ConsoleTail})
		if progress != nil {
			progress(Event{Kernel: k.Name, Phase: "retry", Result: res})
		}
	}
}

// schedule returns the order in which to start the kernels: newest version first. Newer
// kernels know more helpers and program types, so their probes run longest (15 s against 7-10 s
// for 6.x under TCG); starting them first leaves a short guest, not a long one, for the end of a
// run, when the other cores idle. Kernels without a version keep their order at the end.
func schedule(kernels []Kernel) []int {
	order := make([]int, len(kernels))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		va, vb := versionKey(kernels[order[a]].Version), versionKey(kernels[order[b]].Version)
		for i := range va {
			if va[i] != vb[i] {
				return va[i] > vb[i]
			}
		}
		return false
	})
	return order
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

func (cfg *Config) check() error {
	switch {
	case cfg.Agent == "":
		return fmt.Errorf("harness: no agent binary")
	case cfg.QEMU == "":
		return fmt.Errorf("harness: no QEMU binary")
	case cfg.MemoryMB < 128:
		return fmt.Errorf("harness: guest memory %d MB is too small", cfg.MemoryMB)
	case cfg.CPUs < 1 || cfg.Parallel < 1:
		return fmt.Errorf("harness: cpus and parallel must be at least 1")
	case cfg.Timeout <= 0:
		return fmt.Errorf("harness: timeout must be positive")
	case cfg.Channel != ChannelVirtio && cfg.Channel != ChannelSerial:
		return fmt.Errorf("harness: unknown channel %q", cfg.Channel)
	case cfg.ConsoleTail <= 0:
		return fmt.Errorf("harness: console tail must be positive")
	}
	return nil
}
