package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/bpfmatrix/bpfmatrix/observe"
	"github.com/bpfmatrix/bpfmatrix/probe"
)

func init() {
	register(&command{
		name:    "run",
		summary: "boot kernels in QEMU, probe every helper in each, write one JSON report per kernel",
		run:     runRun,
	})
}

const runUsage = `usage: bpfmatrix run [--kernels 5.10,7.3] [--out DIR] [--parallel N] [--timeout D] [flags]

Boots each kernel of kernels.yaml (all, or those named) in a QEMU guest, runs the probe agent in
it as init and writes DIR/<name>.json: the probe report (kernel, btf_helper_ids, prog_types,
results) and a "guest" object (boot_seconds, probe_seconds, accel, image_sha256, package,
version, status, error, console_tail). Kernel images missing from the cache are fetched first
(see bpfmatrix kernels). A kernel whose guest panics, hangs or cuts its results short is written
with status "failed"; the others go on. Ctrl-C stops every guest and keeps the finished kernels.
Exit status: 0 every kernel ok, 1 a kernel failed or the run was interrupted, 2 bad arguments.
`

func runRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	kernels := fs.String("kernels", "", "comma-separated kernel names of kernels.yaml (default: all)")
	out := fs.String("out", "out", "directory for the per-kernel reports")
	gf := addGuestFlags(fs)
	progTypes := fs.String("prog-types", "", "probe only these program types or type/variant selectors (comma-separated)")
	helpers := fs.String("helpers", "", "probe only these helper ids (comma-separated)")
	kfuncs := fs.String("kfuncs", "", "probe only these kfuncs (comma-separated names; - for none)")
	rest, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, runUsage+"\nflags:\n"+flagUsage(fs))
		return exitOK
	}
	bad := func(err error) int {
		fmt.Fprintf(stderr, "bpfmatrix run: %v\n", err)
		return exitBadArgs
	}
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("unexpected arguments %q (name kernels with --kernels)", rest)
	}
	if err != nil {
		return bad(err)
	}
	opts, err := gf.options(*kernels)
	if err != nil {
		return bad(err)
	}
	if opts.Harness.ProgTypes, err = splitList("prog-types", *progTypes); err == nil {
		err = probe.CheckSelectors(opts.Harness.ProgTypes)
	}
	if err != nil {
		return bad(fmt.Errorf("--prog-types: %w", err))
	}
	if opts.Harness.Helpers, err = parseHelperIDs("helpers", *helpers); err != nil {
		return bad(err)
	}
	if opts.Harness.Kfuncs, err = splitList("kfuncs", *kfuncs); err != nil {
		return bad(err)
	}
	if err := lookQEMU(opts.Harness.QEMU); err != nil {
		return bad(err)
	}
	names, err := opts.Select()
	if err != nil {
		return bad(err)
	}
	if err := observe.CheckOutDir(*out, names); err != nil {
		return bad(fmt.Errorf("--out: %w", err))
	}

	ctx, stop := signalContext()
	defer stop()
	show, finish := progressFor(stderr, names)
	var writeErr error
	// Every kernel is written as soon as it is finished: Ctrl-C keeps what is done.
	opts.Refresh = true
	opts.OnEvent = func(e observe.Event) {
		if e.Phase == observe.PhaseDone && !e.Observation.Doc.Guest.Interrupted && ctx.Err() == nil {
			if _, err := observe.WriteFile(*out, *e.Observation); err != nil && writeErr == nil {
				writeErr = err
			}
		}
		show(e)
	}
	start := time.Now()
	obs, err := observe.Run(ctx, opts)
	finish()
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix run: %v\n", err)
		return exitNo
	}
	if writeErr != nil {
		fmt.Fprintf(stderr, "bpfmatrix run: %v\n", writeErr)
		return exitNo
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "bpfmatrix run: interrupted after %.1fs; reports of the finished kernels are in %s\n", time.Since(start).Seconds(), *out)
		return exitNo
	}
	failed := 0
	for _, o := range obs {
		if o.Failed {
			failed++
		}
	}
	fmt.Fprintf(stderr, "bpfmatrix run: %d kernels in %.1fs, %d failed; reports in %s\n", len(obs), time.Since(start).Seconds(), failed, *out)
	if failed > 0 {
		return exitNo
	}
	return exitOK
}
