package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/bpfmatrix/bpfmatrix/harness/guest"
	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/probe"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

func init() {
	register(&command{
		name:    "agent",
		summary: "probe the running kernel and write the result stream a guest sends (for debugging)",
		run:     runAgent,
	})
}

const agentUsage = `usage: bpfmatrix agent [--prog-types T,...] [--helpers ID,...] [--out FILE] [--compress]

Probes the running kernel exactly as the agent inside a 'bpfmatrix run' guest does and writes the
result stream (JSON lines: hello, header, one line per result, trailer) to FILE or stdout. In a
guest the same code runs as /init without arguments, configured by the kernel command line.
`

// probeInGuest is the probe the guest agent runs: the embedded registry if any, the options from the
// kernel command line, the facts as header and every result as it comes.
func probeInGuest(ctx context.Context, opts guest.Options, header, result func(any) error) error {
	// A guest-agent build has no registry: the probe then names helpers from the kernel's BTF,
	// and the observations do not depend on the registry that is judged against them.
	reg, err := registry.Default()
	if errors.Is(err, registry.ErrNotEmbedded) {
		reg = nil
	} else if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	p, err := probe.New(reg, probe.Options{ProgTypes: opts.ProgTypes, Helpers: opts.Helpers, Log: opts.Log})
	if err != nil {
		return err
	}
	if err := header(p.Facts()); err != nil {
		return err
	}
	return p.Run(ctx, func(r probe.Result) error { return result(r) })
}

// runGuestAgent is the guest's init; main calls it before dispatching when guest.IsInit says
// this process is one. It never returns.
func runGuestAgent() {
	guest.Main(func(ctx context.Context, opts guest.Options, header, result func(any) error) error {
		// The console is an emulated UART (about 100 KB/s under TCG): a chatty probe would
		// slow the guest down, so only the first few KB of its log reach it.
		opts.Log = &cappedWriter{w: opts.Log, left: 8 << 10}
		return probeInGuest(ctx, opts, header, result)
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

func runAgent(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	progTypes := fs.String("prog-types", "", "comma-separated program types or type/variant selectors to probe")
	helpers := fs.String("helpers", "", "comma-separated helper ids to probe")
	out := fs.String("out", "-", "file for the result stream, - for stdout")
	compress := fs.Bool("compress", false, "gzip the stream, as the serial channel does")
	rest, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, agentUsage+"\nflags:\n"+flagUsage(fs))
		return exitOK
	}
	if err != nil || len(rest) > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected arguments %q", rest)
		}
		fmt.Fprintf(stderr, "bpfmatrix agent: %v\n%s", err, agentUsage)
		return exitBadArgs
	}
	opts := guest.Options{Log: stderr}
	if *progTypes != "" {
		opts.ProgTypes = strings.Split(*progTypes, ",")
	}
	if *helpers != "" {
		for _, f := range strings.Split(*helpers, ",") {
			id, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				fmt.Fprintf(stderr, "bpfmatrix agent: --helpers: %v\n", err)
				return exitBadArgs
			}
			opts.Helpers = append(opts.Helpers, id)
		}
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintf(stderr, "bpfmatrix agent: %v\n", err)
			return exitBadArgs
		}
		defer f.Close()
		w = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sw := wire.NewWriter(w, *compress)
	release := ""
	if r, _, _ := registry.RunningKernel(); r != "" {
		release = r
	}
	if err := sw.Hello(wire.Hello{Kernel: release}); err != nil {
		fmt.Fprintf(stderr, "bpfmatrix agent: %v\n", err)
		return exitNo
	}
	perr := probeInGuest(ctx, opts, sw.Header, sw.Result)
	if perr != nil {
		sw.Error(perr.Error())
	}
	if err := sw.Close(); err != nil {
		fmt.Fprintf(stderr, "bpfmatrix agent: %v\n", err)
		return exitNo
	}
	if perr != nil {
		fmt.Fprintf(stderr, "bpfmatrix agent: %v\n", perr)
		return exitNo
	}
	return exitOK
}
