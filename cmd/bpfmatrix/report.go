package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/bpfmatrix/bpfmatrix/report"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

func init() {
	register(&command{
		name:    "report",
		summary: "write report.json, report.md and report.html from saved observations",
		run:     runReport,
	})
}

func runReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", "out/observations", "directory of per-kernel observation files (<name>.json, as bpfmatrix run writes them)")
	out := fs.String("out", "out", "directory to write the reports into")
	regPath := registryFlag(fs)
	kfuncsPath := fs.String("kfuncs", "", "kfunc file to use instead of the built-in one")
	sf := addSavedFlags(fs)
	kernelsFile := fs.String("kernels-file", "kernels.yaml", "the kernels file whose kernels.lock names the images (for observations that lack the Debian version)")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "usage: bpfmatrix report [--in DIR] [--out DIR] [--registry FILE] [--skip-bad]\n\nflags:\n%s", flagUsage(fs))
		return exitOK
	}
	if err != nil || len(pos) != 0 {
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", pos[0])
		}
		fmt.Fprintf(stderr, "bpfmatrix report: %v\n", err)
		return exitBadArgs
	}
	reg, prov, err := loadRegistry(*regPath)
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix: %s\n", oneLine(err))
		return exitBadArgs
	}
	kernels, err := sf.read(*in, *kernelsFile, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix report: %v\n", err)
		return exitBadArgs
	}
	kfuncs, err := loadKfuncs(*kfuncsPath)
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix: %s\n", oneLine(err))
		return exitBadArgs
	}
	r := report.Build(reg, prov, kernels, toolVersion())
	if kfuncs.Len() > 0 {
		r.AddKfuncs(kfuncs, kernels)
	}
	paths, err := r.WriteFiles(*out)
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix report: %v\n", err)
		return exitNo
	}
	printSummary(stdout, r)
	for _, p := range paths {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return exitOK
}

// printSummary prints the few lines a CI log shows: kernels, verdict counts, contradictions.
func printSummary(w io.Writer, r *report.Report) {
	for _, k := range r.Kernels {
		line := fmt.Sprintf("kernel %-6s %-10s %-6s known %3d  unknown %3d  no evidence %3d", k.Name, k.Version, k.Status, k.HelpersKnown, k.HelpersUnknown, k.HelpersNoEvidence)
		if k.Error != "" {
			line += "  (" + k.Error + ")"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "verdicts:")
	for _, word := range []string{"confirmed", "interval", "consistent", "withdrawn", "no_evidence", "contradicted"} {
		fmt.Fprintf(w, " %s %d", word, r.Summary.Verdicts[verdict.Word(word)])
	}
	fmt.Fprintln(w)
	for _, hv := range r.Helpers {
		for _, p := range hv.Problems {
			fmt.Fprintf(w, "contradicted: bpf_%s: %s\n", hv.Name, p)
		}
	}
}
