package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/objverdict"
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

const reportUsage = `usage: bpfmatrix report [--in DIR] [--out DIR] [--registry FILE] [--kfuncs FILE] [--loads FILE] [--skip-bad]

Writes report.json, report.md and report.html into --out from the per-kernel observations in --in
(by default where bpfmatrix run writes them), judging the registry and the kfunc table. With a
load.json that bpfmatrix load --out wrote (--loads, or load.json next to --in when it is there),
the reports also show the user's BPF objects on the kernels.
`

func runReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", defaultObservations, "directory of per-kernel observation files (<name>.json, as bpfmatrix run writes them)")
	out := fs.String("out", "out", "directory to write the reports into")
	regPath := registryFlag(fs)
	kfuncsPath := kfuncsFlag(fs)
	sf := addSavedFlags(fs)
	kernelsFile := fs.String("kernels-file", "kernels.yaml", "the kernels file whose kernels.lock names the images (for observations that lack the Debian version)")
	loadsPath := fs.String("loads", "", "a load.json written by bpfmatrix load --out, shown as the reports' objects section (default: load.json in the directory holding --in, when it exists)")
	c := cmdline{"report", reportUsage}
	if _, code := c.parse(fs, 0, args, stdout, stderr); code >= 0 {
		return code
	}
	loads, err := readLoads(*loadsPath, *in)
	if err != nil {
		return c.fail(stderr, err)
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
	if loads != nil {
		r.AddLoads(loads)
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

// readLoads reads the load.json the report shows: path when given (then it must be there), else
// load.json beside the observations directory in, as bpfmatrix load --out DIR and bpfmatrix run
// share DIR (out/load.json next to out/observations), nil when there is none.
func readLoads(path, in string) (*objverdict.Report, error) {
	if path == "" {
		path = filepath.Join(filepath.Dir(filepath.Clean(in)), "load.json")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	return objverdict.ReadReport(path)
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
	printArchSummary(w, r)
}

// printArchSummary prints, for each kernel of another architecture compared with its amd64
// twin, how many answers differ, and each differing answer; nothing for amd64 kernels alone.
func printArchSummary(w io.Writer, r *report.Report) {
	failed := map[string]bool{}
	for _, k := range r.Kernels {
		failed[k.Name] = k.Failed()
	}
	for _, k := range r.Kernels {
		if k.Twin != "" && !failed[k.Name] && !failed[k.Twin] {
			fmt.Fprintf(w, "kernel %s against %s: %d answers differ\n", k.Name, k.Twin, r.CountDifferences(k.Name))
		}
	}
	for _, d := range r.ArchDifferences {
		fmt.Fprintf(w, "differs: %s at %s on %s: %s, on %s: %s\n", d.Function(), d.Where, d.Kernel, d.Outcome, d.Twin, d.TwinOutcome)
	}
}
