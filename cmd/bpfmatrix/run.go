package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
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

const runUsage = `usage: bpfmatrix run [--kernels 5.10,7.3] [--arch arm64] [--out DIR] [--parallel N] [--timeout D] [flags]

Boots each kernel of kernels.yaml (all, or those named) in a QEMU guest, runs the probe agent in
it as init and writes DIR/<name>.json (DIR: out/observations, where bpfmatrix report reads, unless
--out says): the probe report (kernel, btf_helper_ids, prog_types, results) and a "guest" object
(boot_seconds, probe_seconds, accel, image_sha256, package, version, status, error,
console_tail). Kernel images missing from the cache are fetched first (see bpfmatrix kernels). A
kernel whose guest panics, hangs or cuts its results short is written with status "failed"; the
others go on. Ctrl-C stops every guest and keeps the finished kernels. --kfunc-names was spelled
--kfuncs before (which other commands use for a kfunc file); both are read. On a kernel release
its built-in plan was learnt from, the probe loads a non-base variant's pairs only where the plan
says its answer may differ from its type's base variant's, and takes the base's answer (marked
"from") for the rest; --exhaustive loads every pair, reading each answer from the verifier's
full log where a planned probe reads its messages alone, and its observations are not cached.
--arch arm64 boots the arm64 builds of the kernels (qemu-system-aarch64 -M virt, emulated under TCG
on an amd64 host, several times slower than amd64 guests) with the agent cross-built for arm64
(this needs the bpfmatrix source tree and a Go toolchain, or --agent with a static arm64 build),
and writes DIR/<name>-arm64.json beside the amd64 DIR/<name>.json.
Exit status: 0 every kernel ok, 1 a kernel failed or the run was interrupted, 2 bad arguments.
`

// defaultObservations is where run writes and report reads the per-kernel observations, so that
// `bpfmatrix run` then `bpfmatrix report` needs no flag.
var defaultObservations = filepath.Join("out", "observations")

// runFlags are run's flags besides the guest flags.
type runFlags struct {
	kernels, out          *string
	progTypes, kfuncNames *[]string
	helpers               *[]int
	exhaustive            *bool
	gf                    *guestFlags
}

func addRunFlags(fs *flag.FlagSet) *runFlags {
	f := &runFlags{
		kernels:    fs.String("kernels", "", "comma-separated kernel names of kernels.yaml (default: all)"),
		out:        fs.String("out", defaultObservations, "directory for the per-kernel reports"),
		exhaustive: fs.Bool("exhaustive", false, "load every (variant, function) pair, also where the probe's plan would take the type's base variant's answer (the reference a plan is learnt from, each answer read from the verifier's full log; not cached)"),
		gf:         addGuestFlags(fs),
	}
	f.gf.addArch(fs)
	f.progTypes = listFlag(fs, "prog-types", "probe only these program types or type/variant selectors (comma-separated)")
	f.helpers = helperIDsFlag(fs, "helpers", "probe only these helper ids (comma-separated)")
	f.kfuncNames = listFlag(fs, "kfunc-names", "probe only these kfuncs (comma-separated names; - for none)")
	// The old spelling: a list of names here, where --kfuncs names a file everywhere else.
	fs.Var(fs.Lookup("kfunc-names").Value, "kfuncs", "old spelling of --kfunc-names")
	return f
}

// options checks the flags and returns the pipeline's configuration and the kernels it runs.
func (f *runFlags) options() (observe.Options, []string, error) {
	opts, err := f.gf.options(*f.kernels)
	if err != nil {
		return opts, nil, err
	}
	if err := probe.CheckSelectors(*f.progTypes); err != nil {
		return opts, nil, fmt.Errorf("--prog-types: %w", err)
	}
	opts.Harness.ProgTypes, opts.Harness.Helpers, opts.Harness.Kfuncs = *f.progTypes, *f.helpers, *f.kfuncNames
	opts.Harness.Exhaustive = *f.exhaustive
	if err := lookQEMUFor(opts); err != nil {
		return opts, nil, err
	}
	names, err := opts.Select()
	return opts, names, err
}

func runRun(args []string, stdout, stderr io.Writer) int {
	c := cmdline{"run", runUsage}
	f, rest, code := parseWith(c, addRunFlags, -1, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(rest) > 0 {
		return c.fail(stderr, fmt.Errorf("unexpected arguments %q (name kernels with --kernels)", rest))
	}
	opts, names, err := f.options()
	if err != nil {
		return c.fail(stderr, err)
	}
	if err := observe.CheckOutDir(*f.out, opts.Arch, names); err != nil {
		return c.fail(stderr, fmt.Errorf("--out: %w", err))
	}
	return observeAndWrite(c, opts, names, *f.out, stderr)
}

// observeAndWrite runs the pipeline over the kernels named, writing every kernel to out as
// soon as it is finished (Ctrl-C keeps what is done), and returns run's exit code.
func observeAndWrite(c cmdline, opts observe.Options, names []string, out string, stderr io.Writer) int {
	ctx, stop := signalContext()
	defer stop()
	show, finish := progressFor(stderr, names)
	var writeErr error
	opts.Refresh = true
	opts.OnEvent = func(e observe.Event) {
		if e.Phase == observe.PhaseDone && !e.Observation.Doc.Guest.Interrupted && ctx.Err() == nil {
			if _, err := observe.WriteFile(out, *e.Observation); err != nil && writeErr == nil {
				writeErr = err
			}
		}
		show(e)
	}
	start := time.Now()
	obs, err := observe.Run(ctx, opts)
	finish()
	if err == nil {
		err = writeErr
	}
	if err != nil {
		c.say(stderr, err)
		if errors.Is(err, harness.ErrNoAgent) && opts.Arch != harness.HostArch() {
			// An emulated architecture's agent is missing: bad setup, as a missing QEMU is.
			return exitBadArgs
		}
		return exitNo
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "bpfmatrix run: interrupted after %.1fs; reports of the finished kernels are in %s\n", time.Since(start).Seconds(), out)
		return exitNo
	}
	failed := 0
	for _, o := range obs {
		if o.Failed {
			failed++
		}
	}
	fmt.Fprintf(stderr, "bpfmatrix run: %d kernels in %.1fs, %d failed; reports in %s\n", len(obs), time.Since(start).Seconds(), failed, out)
	if failed > 0 {
		return exitNo
	}
	return exitOK
}
