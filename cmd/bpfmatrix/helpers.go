package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/proposal"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/registry/foreign"
	"github.com/bpfmatrix/bpfmatrix/registry/yamledit"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

func init() {
	register(&command{
		name:    "helpers",
		summary: "query the helper registry (list, info, categories, compat, export) and sync its releases from the kernels",
		run:     runHelpers,
	})
}

const helpersUsage = `usage:
  bpfmatrix helpers list [--prog-type T] [--kernel V] [--category C] [--format table|json]
  bpfmatrix helpers info NAME|ID [--format text|json]
  bpfmatrix helpers categories [--format table|json]
  bpfmatrix helpers compat NAME PROG_TYPE VERSION
  bpfmatrix helpers export [--format yaml|json|edn|c] [--out FILE]
  bpfmatrix helpers sync [--in DIR | --kernels 5.10,7.3 ...] [--format text|json] [--write]
every subcommand takes --registry FILE to read another registry than the built-in one
(our YAML, a Clojure library's EDN table, or a JSON array with our keys);
sync proposes the release facts the kernels' observations contradict or the registry lacks
and, with --write, edits them into the file (--registry, default registry/helpers.yaml)
`

// loadRegistry returns the registry in path, or the embedded one when path is empty. Every
// command that reads the registry takes --registry and calls this. Besides our YAML, path may
// hold another library's table: EDN (a Clojure map) or a JSON array with our keys.
// The provenance says how a foreign table's entries were written (nil for the embedded one).
func loadRegistry(path string) (*registry.Registry, *foreign.Provenance, error) {
	if path == "" {
		reg, err := registry.Default()
		return reg, nil, err
	}
	return foreign.LoadTable(path)
}

// registryFlag adds the --registry flag every command shares.
func registryFlag(fs *flag.FlagSet) *string {
	return fs.String("registry", "", "registry file to use instead of the built-in one")
}

func runHelpers(args []string, stdout, stderr io.Writer) int {
	return runSubcommand("helpers", helpersUsage, map[string]func([]string, io.Writer, io.Writer) int{
		"list":       helpersList,
		"info":       helpersInfo,
		"categories": helpersCategories,
		"compat":     helpersCompat,
		"export":     helpersExport,
		"sync":       helpersSync,
	}, args, stdout, stderr)
}

// helpersSetup parses the flags of a helpers subcommand, checks the number of positional
// arguments and loads the registry. It returns nil and prints the error when any of that fails.
func helpersSetup(fs *flag.FlagSet, args []string, nargs int, stdout, stderr io.Writer) ([]string, *registry.Registry, *foreign.Provenance, bool) {
	path := registryFlag(fs)
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, helpersUsage+"\nflags:\n"+flagUsage(fs))
		return nil, nil, nil, false
	}
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix helpers %v\n", err)
		return nil, nil, nil, false
	}
	if len(pos) != nargs {
		fmt.Fprintf(stderr, "bpfmatrix helpers %s: want %d argument(s), got %d\n%s", fs.Name(), nargs, len(pos), helpersUsage)
		return nil, nil, nil, false
	}
	reg, prov, err := loadRegistry(*path)
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix: %s\n", oneLine(err))
		return nil, nil, nil, false
	}
	return pos, reg, prov, true
}

func checkFormat(stderr io.Writer, format string, allowed ...string) bool {
	for _, a := range allowed {
		if format == a {
			return true
		}
	}
	fmt.Fprintf(stderr, "bpfmatrix: unknown format %q (want %s)\n", format, strings.Join(allowed, " or "))
	return false
}

func helpersList(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	progType := fs.String("prog-type", "", "only helpers the registry declares for this program type (e.g. xdp)")
	kernel := fs.String("kernel", "", "only helpers available on this kernel version (e.g. 6.1)")
	category := fs.String("category", "", "only helpers of this category")
	format := fs.String("format", "table", "output format: table or json")
	_, reg, prov, ok := helpersSetup(fs, args, 0, stdout, stderr)
	if !ok || !checkFormat(stderr, *format, "table", "json") {
		return exitBadArgs
	}
	var k *registry.Version
	if *kernel != "" {
		v, err := registry.ParseVersion(*kernel)
		if err != nil {
			fmt.Fprintf(stderr, "bpfmatrix: --kernel: %v\n", err)
			return exitBadArgs
		}
		k = &v
	}
	if *category != "" && !contains(registry.KnownCategories(), *category) {
		fmt.Fprintf(stderr, "bpfmatrix: unknown category %q (known: %s)\n", *category, strings.Join(registry.KnownCategories(), ", "))
		return exitBadArgs
	}
	hs := reg.Helpers()
	switch {
	case *progType != "":
		var err error
		if hs, err = reg.Available(*progType, k); err != nil {
			fmt.Fprintf(stderr, "bpfmatrix: %v\n", err)
			return exitBadArgs
		}
	case k != nil:
		hs = reg.ForKernel(*k)
	}
	if *category != "" {
		hs = filterHelpers(hs, func(h *registry.Helper) bool { return h.Category == *category })
	}
	if *format == "json" {
		if hs == nil {
			hs = []*registry.Helper{}
		}
		return writeJSON(stdout, stderr, hs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSINCE\tCATEGORY\tGPL\tPROG TYPES")
	for _, h := range hs {
		gpl := ""
		switch {
		case !prov.Claimed(h, "gpl_only"):
			gpl = "?" // a foreign table that does not say
		case h.GPLOnly:
			gpl = "gpl"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.CName(), h.MinKernel, h.Category, gpl, abbreviate(h.ProgTypes.String(), 60))
	}
	tw.Flush()
	return exitOK
}

func helpersInfo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	format := fs.String("format", "text", "output format: text or json")
	pos, reg, prov, ok := helpersSetup(fs, args, 1, stdout, stderr)
	if !ok || !checkFormat(stderr, *format, "text", "json") {
		return exitBadArgs
	}
	h, err := reg.Find(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix: %v\n", err)
		return exitBadArgs
	}
	if *format == "json" {
		return writeJSON(stdout, stderr, h)
	}
	fmt.Fprint(stdout, h.Describe())
	if prov.Foreign() {
		fmt.Fprintf(stdout, "\n  written as: %s\n", prov.WrittenAs(h))
		if missing := prov.Unclaimed(h); len(missing) > 0 {
			fmt.Fprintf(stdout, "  not stated there (defaults shown): %s\n", strings.Join(missing, ", "))
		}
	}
	return exitOK
}

func helpersCategories(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("categories", flag.ContinueOnError)
	format := fs.String("format", "table", "output format: table or json")
	_, reg, _, ok := helpersSetup(fs, args, 0, stdout, stderr)
	if !ok || !checkFormat(stderr, *format, "table", "json") {
		return exitBadArgs
	}
	type cat struct {
		Name    string `json:"name"`
		Helpers int    `json:"helpers"`
	}
	var cats []cat
	for _, c := range reg.Categories() {
		cats = append(cats, cat{c, len(reg.ByCategory(c))})
	}
	if *format == "json" {
		return writeJSON(stdout, stderr, cats)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CATEGORY\tHELPERS")
	for _, c := range cats {
		fmt.Fprintf(tw, "%s\t%d\n", c.Name, c.Helpers)
	}
	tw.Flush()
	return exitOK
}

func helpersCompat(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compat", flag.ContinueOnError)
	pos, reg, _, ok := helpersSetup(fs, args, 3, stdout, stderr)
	if !ok {
		return exitBadArgs
	}
	name, progType, version := pos[0], pos[1], pos[2]
	h, err := reg.Find(name)
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix: %v\n", err)
		return exitBadArgs
	}
	v, err := registry.ParseVersion(version)
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix: %v\n", err)
		return exitBadArgs
	}
	// The registry explains its answer, so that the reason printed is the one that decided it.
	c, err := reg.Check(h.Name, progType, v)
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix: %v\n", err)
		return exitBadArgs
	}
	switch {
	case c.OK && c.Reason != "": // ext: the answer depends on the type of the replaced program
		fmt.Fprintf(stdout, "compatible: %s\n", c.Reason)
	case c.OK:
		fmt.Fprintf(stdout, "compatible: %s may be called from %s programs on %s\n", h.CName(), progType, v)
	default:
		fmt.Fprintf(stdout, "not compatible: %s\n", c.Reason)
		return exitNo
	}
	return exitOK
}

// helpersExport writes the table in one of the formats other tools read: our YAML, the JSON of
// helpers list, a Clojure library's EDN map, or a C header.
func helpersExport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	format := fs.String("format", "yaml", "output format: yaml, json, edn or c")
	out := fs.String("out", "", "write to this file (atomically) instead of standard output")
	_, reg, prov, ok := helpersSetup(fs, args, 0, stdout, stderr)
	if !ok || !checkFormat(stderr, *format, "yaml", "json", "edn", "c") {
		return exitBadArgs
	}
	var opts foreign.ExportOptions
	if ext := strings.ToLower(filepath.Ext(*out)); ext == ".clj" || ext == ".cljc" {
		opts.EDNDef = "helper-metadata" // Clojure source keeps the table in a def
	}
	var buf bytes.Buffer
	if err := foreign.Export(&buf, reg, prov, foreign.Format(*format), opts); err != nil {
		fmt.Fprintf(stderr, "bpfmatrix: %v\n", err)
		return exitBadArgs
	}
	if *out == "" {
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			fmt.Fprintf(stderr, "bpfmatrix: %v\n", err)
			return exitNo
		}
		return exitOK
	}
	if err := files.WriteAtomic(*out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintf(stderr, "bpfmatrix: --out: %v\n", err)
		return exitBadArgs
	}
	return exitOK
}

// helpersSyncOutput is what helpers sync prints with --format json.
type helpersSyncOutput struct {
	Registry string                  `json:"registry"`
	Kernels  []verifyKernel          `json:"kernels"`
	Changes  []proposal.HelperChange `json:"changes"`
	Written  string                  `json:"written,omitempty"`
}

// helpersSync proposes the release facts of the helper registry from observations (the saved
// ones in --in, or the pipeline's) and, with --write, edits them into the registry file in
// place. Its exit codes are kfuncs sync's: 0 when it proposed (or wrote), 1 when observing or
// writing failed, 2 on bad input.
func helpersSync(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	in := fs.String("in", "", "propose from the saved observations in DIR instead of observing the kernels")
	kernels := fs.String("kernels", "", "comma-separated kernel names of kernels.yaml (default: all)")
	write := fs.Bool("write", false, "edit the proposal into the registry file")
	format := fs.String("format", "text", "output format: text or json")
	gf := addGuestFlags(fs)
	sf := addSavedFlags(fs)
	_, reg, _, ok := helpersSetup(fs, args, 0, stdout, stderr)
	if !ok || !checkFormat(stderr, *format, "text", "json") {
		return exitBadArgs
	}
	bad := func(err error) int {
		fmt.Fprintf(stderr, "bpfmatrix helpers sync: %s\n", oneLine(err))
		return exitBadArgs
	}
	// --write edits a file: the proposal is made from that file, not from the built-in table.
	dst := fs.Lookup("registry").Value.String()
	if *write {
		if dst == "" {
			dst = filepath.Join("registry", "helpers.yaml")
			if _, err := os.Stat(dst); err != nil {
				return bad(fmt.Errorf("--write needs --registry FILE outside the source tree"))
			}
		}
		var err error
		if reg, err = registry.Load(dst); err != nil {
			return bad(fmt.Errorf("--write edits our YAML registry: %w", err))
		}
	}
	rks, cached, err := syncKernels(*in, *kernels, gf, sf, stderr)
	if errors.Is(err, errBadInput) {
		return bad(err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix helpers sync: %v\n", err)
		return exitNo
	}
	doc := helpersSyncOutput{Registry: reg.File()}
	var vks []verdict.Kernel
	failed := 0
	for _, k := range rks {
		vks = append(vks, k.Kernel)
		vk := verifyKernel{Name: k.Name, Version: k.Version.String(), Status: "ok", Cached: cached == nil || cached[k.Name]}
		if k.Failed {
			vk.Status, vk.Error = "failed", k.Error
			failed++
		}
		doc.Kernels = append(doc.Kernels, vk)
	}
	updated, changes := proposal.Helpers(reg, vks)
	doc.Changes = append([]proposal.HelperChange{}, changes...)
	if *write && len(updated) > 0 {
		data, err := os.ReadFile(dst)
		if err == nil {
			data, err = yamledit.UpdateHelpers(dst, data, updated)
		}
		if err == nil {
			err = files.WriteAtomic(dst, data, 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "bpfmatrix helpers sync: %v\n", err)
			return exitNo
		}
		doc.Written = dst
	}
	summary := fmt.Sprintf("%d helpers against %d kernels (%d failed): %d changes to %d helpers",
		reg.Len(), len(rks), failed, len(changes), len(updated))
	if *format == "json" {
		fmt.Fprintln(stderr, summary)
		return writeJSON(stdout, stderr, doc)
	}
	for _, c := range changes {
		fmt.Fprintln(stdout, c)
	}
	fmt.Fprintln(stdout, summary)
	if doc.Written != "" {
		fmt.Fprintf(stdout, "wrote %s\n", dst)
	}
	return exitOK
}

func filterHelpers(hs []*registry.Helper, keep func(*registry.Helper) bool) []*registry.Helper {
	var out []*registry.Helper
	for _, h := range hs {
		if keep(h) {
			out = append(out, h)
		}
	}
	return out
}

func writeJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "bpfmatrix: %v\n", err)
		return exitNo
	}
	return exitOK
}

// oneLine joins a multi-line error (the loader reports every problem it finds) so that the
// first line names the file and the rest stay readable.
func oneLine(err error) string {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%s (and %d more problem(s):\n  %s)", lines[0], len(lines)-1, strings.Join(lines[1:], "\n  "))
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
