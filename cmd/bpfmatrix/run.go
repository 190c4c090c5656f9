package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/observe"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
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
	rest, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, runUsage+"\nflags:\n"+flagUsage(fs))
		return exitOK
	}
	bad := func(err error) int {
		fmt.Fprintf(stderr, "bpfmatrix run: %v\n", err)
		return exitBadArgs
	}
	if err != nil {
		return bad(err)
	}
	if len(rest) > 0 {
		return bad(fmt.Errorf("unexpected arguments %q (name kernels with --kernels)", rest))
	}

	cfg, err := gf.config()
	if err != nil {
		return bad(err)
	}
	if *progTypes != "" {
		cfg.ProgTypes = strings.Split(*progTypes, ",")
	}
	if *helpers != "" {
		for _, f := range strings.Split(*helpers, ",") {
			id, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || id <= 0 {
				return bad(fmt.Errorf("--helpers: %q is not a helper id", f))
			}
			cfg.Helpers = append(cfg.Helpers, id)
		}
	}
	if err := lookQEMU(cfg.QEMU); err != nil {
		return bad(err)
	}
	kcfg, err := vmimages.LoadConfig(gf.kernelsFile)
	if err != nil {
		return bad(err)
	}
	var names []string
	if *kernels != "" {
		names = []string{*kernels}
	}
	entries, err := kcfg.Select(names)
	if err != nil {
		return bad(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "bpfmatrix run: %v\n", err)
		return exitNo
	}
	p := newRunProgress(stderr, entries)

	fetcher := &vmimages.Fetcher{CacheDir: gf.cacheDir, Offline: gf.offline, OnStep: p.fetchStep}
	images, ferr := fetcher.Fetch(ctx, entries)
	if ctx.Err() != nil {
		p.finish()
		fmt.Fprintln(stderr, "bpfmatrix run: interrupted")
		return exitNo
	}

	workDir, err := os.MkdirTemp("", "bpfmatrix-run-")
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix run: %v\n", err)
		return exitNo
	}
	defer os.RemoveAll(workDir)
	cfg.WorkDir = workDir
	if cfg.Agent == "" {
		if cfg.Agent, err = harness.AgentBinary(ctx, workDir); err != nil {
			p.finish()
			fmt.Fprintf(stderr, "bpfmatrix run: %v\n", err)
			return exitNo
		}
	}

	kernelsToRun := make([]harness.Kernel, len(images))
	for i, img := range images {
		kernelsToRun[i] = observe.HarnessKernel(img)
	}
	failed := 0
	var writeErr error
	start := time.Now()
	if len(kernelsToRun) > 0 {
		_, err = harness.Run(ctx, cfg, kernelsToRun, func(e harness.Event) {
			if e.Phase == "done" && !e.Result.Guest.Interrupted {
				if err := writeReport(*out, e.Result); err != nil && writeErr == nil {
					writeErr = err
				}
			}
			p.guestEvent(e)
		})
	}
	p.finish()
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix run: %v\n", err)
		return exitNo
	}
	if writeErr != nil {
		fmt.Fprintf(stderr, "bpfmatrix run: %v\n", writeErr)
		return exitNo
	}
	failed = p.failed
	if ferr != nil {
		fmt.Fprintf(stderr, "bpfmatrix run: %v\n", ferr)
		failed += len(entries) - len(images)
		// A kernel that could not be fetched is a failed kernel too: its report says so, so
		// that a report built from DIR shows it failed rather than missing.
		var fe *vmimages.FetchError
		if errors.As(ferr, &fe) {
			for i, name := range fe.Kernels {
				r := harness.Failed(name, fmt.Errorf("kernel image: %w", fe.Errs[i]))
				if err := writeReport(*out, r); err != nil {
					fmt.Fprintf(stderr, "bpfmatrix run: %v\n", err)
					return exitNo
				}
			}
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "bpfmatrix run: interrupted after %.1fs; reports of the finished kernels are in %s\n", time.Since(start).Seconds(), *out)
		return exitNo
	}
	fmt.Fprintf(stderr, "bpfmatrix run: %d kernels in %.1fs, %d failed; reports in %s\n", len(entries), time.Since(start).Seconds(), failed, *out)
	if failed > 0 {
		return exitNo
	}
	return exitOK
}

// writeReport writes DIR/<name>.json through a temporary file, so that an interrupted run never
// leaves half a report behind.
func writeReport(dir string, r *harness.Result) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	if err := files.WriteAtomic(filepath.Join(dir, r.Kernel.Name+".json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("report %s: %w", r.Kernel.Name, err)
	}
	return nil
}

// runProgress shows each kernel's state: a live board on a terminal, plain lines otherwise (a
// log file, CI).
type runProgress struct {
	w      io.Writer
	board  *liveBoard
	failed int
}

func newRunProgress(w io.Writer, entries []vmimages.Entry) *runProgress {
	p := &runProgress{w: w}
	if isTerminal(w) && os.Getenv("CI") == "" {
		p.board = newLiveBoard(w, entries)
	}
	return p
}

func (p *runProgress) fetchStep(s vmimages.Step) {
	if p.board != nil {
		if s.Done && s.Err == nil {
			s.Done, s.Message = false, "image ready, waiting for a guest"
		}
		p.board.step(s)
		return
	}
	who := s.Kernel
	if who == "" {
		who = "*"
	}
	fmt.Fprintf(p.w, "%-8s %s\n", who, s.Message)
}

func (p *runProgress) guestEvent(e harness.Event) {
	var msg string
	done := false
	var err error
	switch e.Phase {
	case "boot":
		msg = "booting"
	case "probe":
		if e.Results == 0 {
			msg = fmt.Sprintf("agent up after %.1fs, probing", e.Elapsed.Seconds())
		} else {
			msg = fmt.Sprintf("probing: %d results (%.0fs)", e.Results, e.Elapsed.Seconds())
		}
	case "retry":
		msg = "failed (" + oneLine(errors.New(e.Result.Guest.Error)) + "); booting it again"
	case "done":
		done = true
		g := e.Result.Guest
		if e.Result.OK() {
			msg = fmt.Sprintf("%d results, boot %.1fs + probe %.1fs (%s, %s)", len(e.Result.Results), g.BootSeconds, g.ProbeSeconds, g.Accel, g.Release)
		} else {
			p.failed++
			err = errors.New(g.Error)
			msg = "failed: " + g.Error
		}
	}
	if p.board != nil {
		if done && err == nil {
			p.board.step(vmimages.Step{Kernel: e.Kernel, Message: msg, Done: true})
		} else {
			p.board.step(vmimages.Step{Kernel: e.Kernel, Message: msg, Done: done, Err: err})
		}
		return
	}
	if e.Phase == "probe" && e.Results > 0 {
		// Plain output is a log: one line per phase, not a line per 250 ms.
		return
	}
	fmt.Fprintf(p.w, "%-8s %s\n", e.Kernel, msg)
}

func (p *runProgress) finish() {
	if p.board != nil {
		p.board.finish()
	}
}
