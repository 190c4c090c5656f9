package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/probe"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

func init() {
	register(&command{
		name:    "probe",
		summary: "ask the running kernel which helpers each program type offers (needs root)",
		run:     runProbe,
	})
}

const probeUsage = `usage: bpfmatrix probe [--format table|json] [--prog-type T[,T...]] [--helper NAME|ID[,...]]
                       [--registry FILE] [--workers N] [--verbose]

Loads one tiny program per (helper, program type variant) into the running kernel, classifies the
verifier's answer, and prints one record per pair with the kernel's facts. Nothing stays loaded.
--prog-type takes kernel type names (tracing) or single variants (tracing/fentry); --helper takes
registry names (with or without bpf_) or raw ids (212: ids the registry lacks are allowed).
The exit code is 1 when any answer is unclassified: the verifier said something no rule knows.
`

// maxProbeWorkers bounds probe --workers: each worker loads programs into the kernel at once,
// and far more than the CPUs gains nothing.
const maxProbeWorkers = 1024

func runProbe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	format := formatFlag(fs, "table", "json")
	progTypes := listFlag(fs, "prog-type", "only these program types or type/variant pairs, comma-separated")
	helpers := listFlag(fs, "helper", "only these helpers (names or ids), comma-separated")
	workers := intFlag(fs, "workers", 0, 0, maxProbeWorkers, "parallel loads (0: one per CPU)")
	verbose := fs.Bool("verbose", false, "print progress and every unclassified log to stderr as it happens")
	regPath := registryFlag(fs)
	c := cmdline{"probe", probeUsage}
	if _, code := c.parse(fs, 0, args, stdout, stderr); code >= 0 {
		return code
	}
	reg, _, err := loadRegistry(*regPath)
	if err != nil {
		return c.fail(stderr, err)
	}
	opts := probe.Options{Workers: *workers, ProgTypes: *progTypes}
	if *verbose {
		opts.Log = stderr
	}
	if opts.Helpers, err = helperIDs(reg, *helpers); err != nil {
		return c.fail(stderr, err)
	}
	p, err := probe.New(reg, opts)
	if errors.Is(err, registry.ErrUnknownProgType) || errors.Is(err, probe.ErrUnknownVariant) {
		return c.fail(stderr, err)
	}
	if err != nil {
		c.say(stderr, err)
		return exitNo
	}
	return probeAndPrint(c, p, *format, stdout, stderr)
}

// probeAndPrint runs the probe p, printing its answers in format, and returns probe's exit code.
func probeAndPrint(c cmdline, p *probe.Prober, format string, stdout, stderr io.Writer) int {
	ctx, stop := signalContext()
	defer stop()
	rep := &observation.Document{Facts: p.Facts()}
	emit, tw := probeEmitter(rep, format, stdout)
	if err := p.Run(ctx, emit); err != nil {
		c.say(stderr, err)
		return exitNo
	}
	// The run learns more facts (argument kinds): the report carries them all.
	rep.Facts = p.Facts()
	if tw != nil {
		tw.Flush() // a failed write is said by dispatch
	} else {
		if rep.Results == nil {
			rep.Results = []observation.Result{}
		}
		if code := writeJSON(stdout, stderr, rep); code != exitOK {
			return code
		}
	}
	if unclassified := summarizeProbe(stderr, rep, p.Stats()); unclassified > 0 {
		return exitNo
	}
	return exitOK
}

// helperIDs resolves --helper items: registry names, or raw ids (which may be ids the registry
// does not hold, such as one past the kernel's last).
func helperIDs(reg *registry.Registry, items []string) ([]int, error) {
	var ids []int
	for _, item := range items {
		if item[0] >= '0' && item[0] <= '9' || item[0] == '-' {
			id, err := readHelperIDs([]string{item}) // the items are split already
			if err != nil {
				return nil, fmt.Errorf("--helper: %w", err)
			}
			ids = append(ids, id...)
			continue
		}
		h, err := reg.Find(item)
		if err != nil {
			return nil, err
		}
		ids = append(ids, h.ID)
	}
	return ids, nil
}

// writeFacts prints the kernel facts above the table.
func writeFacts(w io.Writer, f observation.Facts) {
	version := f.Kernel.Version
	if version == "" {
		version = "version unknown"
	}
	fmt.Fprintf(w, "kernel %s (%s)\n", f.Kernel.Release, version)
	if n := len(f.BTFHelperIDs); n > 0 {
		fmt.Fprintf(w, "BTF enum bpf_func_id: %d helper ids, %d..%d\n", n, f.BTFHelperIDs[0], f.BTFHelperIDs[n-1])
	} else {
		fmt.Fprintln(w, "BTF enum bpf_func_id: not available (kernel without BTF)")
	}
	usable, total := 0, 0
	var refused []string
	for _, pt := range f.ProgTypes {
		for _, v := range pt.Variants {
			total++
			if v.Usable {
				usable++
				continue
			}
			refused = append(refused, fmt.Sprintf("  %s/%s: %s", pt.Name, v.Name, v.Reason))
		}
	}
	fmt.Fprintf(w, "variants: %d of %d load\n", usable, total)
	for _, r := range refused {
		fmt.Fprintln(w, r)
	}
	fmt.Fprintln(w)
}

// summarizeProbe writes the outcome counts to w, and every unclassified answer with its log, and
// returns how many answers were unclassified.
func summarizeProbe(w io.Writer, rep *observation.Document, stats probe.Stats) int {
	counts := map[observation.Outcome]int{}
	var unclassified []observation.Result
	for _, r := range rep.Results {
		counts[r.Outcome]++
		if r.Outcome == observation.Unclassified {
			unclassified = append(unclassified, r)
		}
	}
	var parts []string
	for _, o := range observation.Outcomes {
		parts = append(parts, fmt.Sprintf("%s %d", o, counts[o]))
	}
	fmt.Fprintf(w, "bpfmatrix probe: %s: %d results, %d loads in %.2fs: %s\n",
		rep.Kernel.Release, len(rep.Results), stats.Loads, stats.Duration.Seconds(), strings.Join(parts, ", "))
	if len(unclassified) > 0 {
		fmt.Fprintf(w, "\n!!! %d UNCLASSIFIED results: the verifier said something no classifier rule knows.\n", len(unclassified))
		fmt.Fprintln(w, "!!! Add a row to the verifier grammar (probe/verifierlog/rows.go) and the log as golden testdata; nothing was guessed.")
		for _, r := range unclassified {
			fmt.Fprintf(w, "!!! %s/%s id %d (%s): %s\n%s\n", r.ProgType, r.Variant, r.HelperID, r.Helper, r.Detail, indent(r.Log))
		}
	}
	return len(unclassified)
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "      " + l
	}
	return strings.Join(lines, "\n")
}

// probeEmitter returns the function that takes each result as it comes: it collects them into
// rep and, for the table format, prints each row at once (tw, flushed by the caller).
func probeEmitter(rep *observation.Document, format string, stdout io.Writer) (func(observation.Result) error, *tabwriter.Writer) {
	if format == "json" {
		return func(r observation.Result) error {
			rep.Results = append(rep.Results, r)
			return nil
		}, nil
	}
	writeFacts(stdout, rep.Facts)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\tPROG TYPE\tVARIANT\tID\tHELPER\tOUTCOME\tDETAIL")
	return func(r observation.Result) error {
		rep.Results = append(rep.Results, r)
		name := r.Helper
		if r.Kfunc != "" {
			name = r.Kfunc
		}
		if name == "" {
			name = "-"
		}
		_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n",
			rep.Kernel.Release, r.ProgType, r.Variant, r.HelperID, name, r.Outcome, r.Detail)
		return err
	}, tw
}
