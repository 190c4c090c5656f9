package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/registry"
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

const reportUsage = `usage: bpfmatrix report [--in DIR] [--out DIR] [--registry FILE] [--kfuncs FILE] [--skip-bad]

Writes report.json, report.md and report.html into --out from the per-kernel observations in --in
(by default where bpfmatrix run writes them), judging the registry and the kfunc table.
`

func runReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", defaultObservations, "directory of per-kernel observation files (<name>.json, as bpfmatrix run writes them)")
	out := fs.String("out", "out", "directory to write the reports into")
	regPath := registryFlag(fs)
	kfuncsPath := kfuncsFlag(fs)
	sf := addSavedFlags(fs)
	kernelsFile := fs.String("kernels-file", "kernels.yaml", "the kernels file whose kernels.lock names the images (for observations that lack the Debian version)")
	c := cmdline{"report", reportUsage}
	if _, code := c.parse(fs, 0, args, stdout, stderr); code >= 0 {
		return code
	}
	reg, kfuncs, err := loadTables(*regPath, *kfuncsPath)
	if err != nil {
		return c.fail(stderr, err)
	}
	kernels, err := sf.read(*in, *kernelsFile, stderr)
	if err != nil {
		return c.fail(stderr, err)
	}
	r := report.Build(reg.Registry, reg.prov, kernels, toolVersion())
	if kfuncs.Len() > 0 {
		r.AddKfuncs(kfuncs, kernels)
	}
	paths, err := r.WriteFiles(*out)
	if err != nil {
		if errors.Is(err, files.ErrRefused) {
			return c.fail(stderr, err)
		}
		c.say(stderr, err)
		return exitNo
	}
	printSummary(stdout, r)
	for _, p := range paths {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return exitOK
}

// loadTables loads the helper registry and the kfunc table of the commands that judge both
// (verify, report); empty paths name the built-in ones.
func loadTables(regPath, kfuncsPath string) (helperTable, *registry.Kfuncs, error) {
	reg, err := loadHelpers(regPath)
	if err != nil {
		return reg, nil, err
	}
	kfuncs, err := loadKfuncs(kfuncsPath)
	return reg, kfuncs, err
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
	for _, word := range []verdict.Word{verdict.Confirmed, verdict.Interval, verdict.Consistent, verdict.Withdrawn, verdict.NoEvidence, verdict.Contradicted} {
		fmt.Fprintf(w, " %s %d", word, r.Summary.Verdicts[word])
	}
	fmt.Fprintln(w)
	for _, hv := range r.Helpers {
		for _, p := range hv.Problems {
			fmt.Fprintf(w, "contradicted: bpf_%s: %s\n", hv.Name, p)
		}
	}
}
