package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/kconfig"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/probe"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// ProbeKernel is the Probe every bpfmatrix agent runs: the probe engine over the options from
// the kernel command line, the facts as header and every result as it comes. It uses the
// embedded registry when the binary has one; a guest-agent build has none, and the probe then
// names helpers from the kernel's BTF, so observations do not depend on the registry that is
// later judged against them.
func ProbeKernel(ctx context.Context, opts Options, header, result func(any) error) error {
	reg, err := registry.Default()
	if errors.Is(err, registry.ErrNotEmbedded) {
		reg = nil
	} else if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	popts := probe.Options{ProgTypes: opts.ProgTypes, Helpers: opts.Helpers, Kfuncs: opts.Kfuncs, Log: opts.Log, Modules: opts.Modules, Exhaustive: opts.Exhaustive}
	// The host puts the image's config here when it has one (Debian kernels do not expose
	// /proc/config.gz); without it the probe looks for the usual places itself.
	if c, err := kconfig.Read(wire.KernelConfigPath); err == nil {
		popts.KernelConfig = c
	}
	p, err := probe.New(reg, popts)
	if err != nil {
		return err
	}
	if err := header(p.Facts()); err != nil {
		return err
	}
	if err := p.Run(ctx, func(r observation.Result) error { return result(r) }); err != nil {
		return err
	}
	// The run learns more about the kernel (each offered helper's argument kinds): the facts
	// go out again, whole, and replace the first header.
	return header(p.Facts())
}

// RunAgent is the whole life of a guest's init: Main with ProbeKernel, or with LoadObjects when
// the host put a load plan in the initramfs. It never returns.
func RunAgent() {
	Main(func(ctx context.Context, opts Options, header, result func(any) error) error {
		// The console is an emulated UART (about 100 KB/s under TCG): a chatty probe would
		// slow the guest down, so only the first few KB of its log reach it.
		opts.Log = &cappedWriter{w: opts.Log, left: 8 << 10}
		if HasLoadPlan() {
			return LoadObjects(ctx, opts, header, result)
		}
		if rounds := os.Getenv(wire.EnvFloor); rounds != "" {
			return MeasureFloor(rounds, header)
		}
		return ProbeKernel(ctx, opts, header, result)
	})
}

// cappedWriter passes on the first left bytes and then one note that the rest was dropped.
type cappedWriter struct {
	mu   sync.Mutex
	w    io.Writer
	left int
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.left <= 0:
	case len(p) <= c.left:
		c.w.Write(p)
		c.left -= len(p)
	default:
		c.w.Write(p[:c.left])
		fmt.Fprintln(c.w, "\n[agent: further probe log dropped]")
		c.left = 0
	}
	return len(p), nil
}

// MeasureFloor is the Probe of a guest asked for the bare-load floor: rounds (a number) rounds of
// probe.Floor, sent as the header's passes with the kernel's release.
func MeasureFloor(rounds string, header func(any) error) error {
	n, err := strconv.Atoi(rounds)
	if err != nil || n < 1 || n > 100 {
		return fmt.Errorf("%s=%q: want a number of rounds from 1 to 100", wire.EnvFloor, rounds)
	}
	release, _, _ := probe.RunningKernel()
	floor, err := probe.Floor(n)
	if err != nil {
		return err
	}
	return header(observation.Facts{Kernel: observation.KernelInfo{Release: release}, Passes: &observation.PassStats{Floor: &floor}})
}
