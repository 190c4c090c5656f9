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
	"syscall"

	"github.com/bpfmatrix/bpfmatrix/harness/guest"
	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/hostkernel"
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
	if r, err := hostkernel.Release(); err == nil {
		release = r
	}
	if err := sw.Hello(wire.Hello{Kernel: release}); err != nil {
		fmt.Fprintf(stderr, "bpfmatrix agent: %v\n", err)
		return exitNo
	}
	perr := guest.ProbeKernel(ctx, opts, sw.Header, sw.Result)
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
