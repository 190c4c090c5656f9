package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/proposal"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/registry/yamledit"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

func init() {
	register(&command{
		name:    "kfuncs",
		summary: "query the kfunc registry (list, info, categories, compat) and sync it from the kernels",
		run:     runKfuncs,
	})
}

const kfuncsUsage = `usage:
  bpfmatrix kfuncs list [--prog-type T] [--kernel V] [--category C] [--format table|json]
  bpfmatrix kfuncs info NAME [--format text|json]
  bpfmatrix kfuncs categories [--format table|json]
  bpfmatrix kfuncs compat NAME PROG_TYPE VERSION
  bpfmatrix kfuncs sync [--in DIR | --kernels 6.12,7.3 ...] [--write]
every subcommand takes --kfuncs FILE to read another kfunc file than the built-in one;
sync proposes the file from the kernels' observations and, with --write, writes it
(to --kfuncs, default registry/kfuncs.yaml), keeping categories, descriptions and notes
`

func runKfuncs(args []string, stdout, stderr io.Writer) int {
	return runSubcommand("kfuncs", kfuncsUsage, map[string]func([]string, io.Writer, io.Writer) int{
		"list": kfuncsList, "info": kfuncsInfo, "categories": kfuncsCategories, "compat": kfuncsCompat, "sync": kfuncsSync,
	}, args, stdout, stderr)
}

// loadKfuncs returns the kfunc table in path, or the embedded one when path is empty.
func loadKfuncs(path string) (*registry.Kfuncs, error) {
	if path == "" {
		return registry.DefaultKfuncs()
	}
	return registry.LoadKfuncs(path)
}

// kfuncsSetup parses a kfuncs subcommand's flags, checks its positional arguments and loads
// the table; on failure it has printed why and returns the exit code.
func kfuncsSetup(fs *flag.FlagSet, args []string, nargs int, stdout, stderr io.Writer) ([]string, *registry.Kfuncs, int) {
	path := fs.String("kfuncs", "", "kfunc file to use instead of the built-in one")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, kfuncsUsage+"\nflags:\n"+flagUsage(fs))
		return nil, nil, exitOK
	}
	if err == nil && len(pos) != nargs {
		err = fmt.Errorf("%s: want %d argument(s), got %d", fs.Name(), nargs, len(pos))
	}
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix kfuncs %v\n", err)
		return nil, nil, exitBadArgs
	}
	ks, err := loadKfuncs(*path)
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix: %s\n", oneLine(err))
		return nil, nil, exitBadArgs
	}
	return pos, ks, -1
}

func kfuncsList(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	progType := fs.String("prog-type", "", "only kfuncs this program type may call")
	kernel := fs.String("kernel", "", "only kfuncs of this kernel release")
	category := fs.String("category", "", "only kfuncs of this category")
	format := formatFlag(fs, "table", "json")
	_, table, code := kfuncsSetup(fs, args, 0, stdout, stderr)
	if code >= 0 {
		return code
	}
	var v registry.Version
	if *kernel != "" {
		var err error
		if v, err = registry.ParseVersion(*kernel); err != nil {
			fmt.Fprintf(stderr, "bpfmatrix kfuncs list: --kernel: %v\n", err)
			return exitBadArgs
		}
	}
	if *progType != "" {
		if _, ok := registry.ProgTypeID(*progType); !ok {
			fmt.Fprintf(stderr, "bpfmatrix kfuncs list: %v: %q\n", registry.ErrUnknownProgType, *progType)
			return exitBadArgs
		}
	}
	var out []*registry.Kfunc
	for _, k := range table.All() {
		exists, _ := k.Exists(v)
		switch {
		case *category != "" && k.Category != *category:
		case *kernel != "" && !exists:
		case *progType != "" && !k.OfferedTo(*progType, v):
		default:
			out = append(out, k)
		}
	}
	if *format == "json" {
		return writeJSON(stdout, stderr, nonNil(out))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSINCE\tCATEGORY\tPROG TYPES")
	for _, k := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, k.MinKernel, k.Category, k.ProgTypes)
	}
	tw.Flush()
	return exitOK
}

func nonNil(ks []*registry.Kfunc) []*registry.Kfunc {
	if ks == nil {
		return []*registry.Kfunc{}
	}
	return ks
}

func kfuncsInfo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	format := formatFlag(fs, "text", "json")
	pos, table, code := kfuncsSetup(fs, args, 1, stdout, stderr)
	if code >= 0 {
		return code
	}
	k, err := table.Find(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix kfuncs info: %v\n", err)
		return exitBadArgs
	}
	if *format == "json" {
		return writeJSON(stdout, stderr, k)
	}
	fmt.Fprint(stdout, k.Describe())
	return exitOK
}

func kfuncsCategories(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("categories", flag.ContinueOnError)
	format := formatFlag(fs, "table", "json")
	_, table, code := kfuncsSetup(fs, args, 0, stdout, stderr)
	if code >= 0 {
		return code
	}
	counts := map[string]int{}
	for _, k := range table.All() {
		counts[k.Category]++
	}
	if *format == "json" {
		return writeJSON(stdout, stderr, counts)
	}
	for _, c := range table.Categories() {
		fmt.Fprintf(stdout, "%-10s %d\n", c, counts[c])
	}
	return exitOK
}

func kfuncsCompat(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compat", flag.ContinueOnError)
	pos, table, code := kfuncsSetup(fs, args, 3, stdout, stderr)
	if code >= 0 {
		return code
	}
	v, err := registry.ParseVersion(pos[2])
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix kfuncs compat: %v\n", err)
		return exitBadArgs
	}
	ok, why, err := table.Compatible(pos[0], pos[1], v)
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix kfuncs compat: %v\n", err)
		return exitBadArgs
	}
	if ok {
		fmt.Fprintf(stdout, "compatible: %s on %s\n", why, v)
		return exitOK
	}
	fmt.Fprintf(stdout, "not compatible: %s\n", why)
	return exitNo
}

// kfuncsSync proposes the kfunc table from observations: the saved ones in --in, or those of
// the pipeline (cached, booting what is missing). It prints what changes and, with --write,
// writes the file.
func kfuncsSync(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	in := fs.String("in", "", "propose from the saved observations in DIR instead of observing the kernels")
	kernels := fs.String("kernels", "", "comma-separated kernel names of kernels.yaml (default: all)")
	write := fs.Bool("write", false, "write the proposal to the kfunc file")
	gf := addGuestFlags(fs)
	sf := addSavedFlags(fs)
	_, table, code := kfuncsSetup(fs, args, 0, stdout, stderr)
	if code >= 0 {
		return code
	}
	dst := fs.Lookup("kfuncs").Value.String()
	if *write && dst == "" {
		// Propose from the file that will be written, not from the table built into this
		// binary, which may be older than the checkout's.
		dst = filepath.Join("registry", "kfuncs.yaml")
		if _, err := os.Stat(dst); err != nil {
			fmt.Fprintf(stderr, "bpfmatrix kfuncs sync: --write needs --kfuncs FILE outside the source tree\n")
			return exitBadArgs
		}
		var err error
		if table, err = registry.LoadKfuncs(dst); err != nil {
			fmt.Fprintf(stderr, "bpfmatrix kfuncs sync: %v\n", err)
			return exitBadArgs
		}
	}
	rks, _, err := syncKernels(*in, *kernels, gf, sf, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix kfuncs sync: %v\n", err)
		if errors.Is(err, errBadInput) {
			return exitBadArgs
		}
		return exitNo
	}
	var vks []verdict.Kernel
	for _, k := range rks {
		vks = append(vks, k.Kernel)
	}
	proposed, changes := proposal.Kfuncs(table, vks)
	counts := map[string]int{}
	for _, c := range changes {
		counts[c.Kind]++
		if c.Kind == "changed" {
			fmt.Fprintf(stdout, "changed %s: %v\n", c.Name, c.Fields)
		} else if c.Kind == "added" {
			fmt.Fprintf(stdout, "added %s\n", c.Name)
		}
	}
	fmt.Fprintf(stdout, "%d kfuncs: %d added, %d changed, %d unchanged, %d kept (seen by no kernel)\n",
		len(proposed), counts["added"], counts["changed"], counts["unchanged"], counts["kept"])
	if !*write {
		return exitOK
	}
	if err := files.WriteAtomic(dst, yamledit.MarshalKfuncs(proposed), 0o644); err != nil {
		fmt.Fprintf(stderr, "bpfmatrix kfuncs sync: %v\n", err)
		return exitNo
	}
	fmt.Fprintf(stdout, "wrote %s\n", dst)
	return exitOK
}
