package main

import (
	"flag"
	"io"
	"os"

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
	progTypes := listFlag(fs, "prog-types", "comma-separated program types or type/variant selectors to probe")
	helpers := helperIDsFlag(fs, "helpers", "comma-separated helper ids to probe")
	out := fs.String("out", "-", "file for the result stream, - for stdout")
	compress := fs.Bool("compress", false, "gzip the stream, as the serial channel does")
	c := cmdline{"agent", agentUsage}
	if _, code := c.parse(fs, 0, args, stdout, stderr); code >= 0 {
		return code
	}
	opts := guest.Options{Log: stderr, ProgTypes: *progTypes, Helpers: *helpers}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return c.fail(stderr, err)
		}
		defer f.Close()
		w = f
	}
	ctx, stop := signalContext()
	defer stop()
	sw := wire.NewWriter(w, *compress)
	release := ""
	if r, err := hostkernel.Release(); err == nil {
		release = r
	}
	if err := sw.Hello(wire.Hello{Kernel: release}); err != nil {
		c.say(stderr, err)
		return exitNo
	}
	perr := guest.ProbeKernel(ctx, opts, sw.Header, sw.Result)
	if perr != nil {
		sw.Error(perr.Error())
	}
	if err := sw.Close(); err != nil {
		c.say(stderr, err)
		return exitNo
	}
	if perr != nil {
		c.say(stderr, perr)
		return exitNo
	}
	return exitOK
}
