package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/proposal"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/registry/yamledit"
	"github.com/bpfmatrix/bpfmatrix/report"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// `helpers sync` and `kfuncs sync` are one command over two tables: the same flags (--in,
// --kernels, the guest and saved-observation flags, --format text|json, --write), the same
// steps (load the table, gather the kernels' observations, propose, edit the file in place,
// print) and the same exit codes (0 proposed or wrote, 1 observing or writing failed, 2 bad
// input). What differs is the table: its file flag, how it is loaded, proposed and edited, and
// how its text output reads (both keep the lines they printed before --format json existed).

// syncTable is what sync needs of one table.
type syncTable struct {
	group    string // the command group: "helpers" or "kfuncs"
	fileFlag string // the flag naming the table's file
	usage    string
	// defaultFile is the file --write edits in a source checkout when fileFlag is not given.
	defaultFile string
	// load reads the table in path ("" for the built-in one); forWrite asks for a file sync
	// can edit.
	load func(path string, forWrite bool) (syncProposer, error)
	// structOps says the sync also proposes the struct_ops table (--structops FILE).
	structOps bool
}

// syncProposer is a loaded table that proposes from kernels.
type syncProposer interface {
	// file names the table's file.
	file() string
	// propose returns the changes, the text lines that report them and the file edited with
	// them (nil when there is nothing to write).
	propose(kernels []verdict.Kernel, dst string) (syncResult, error)
}

// syncResult is what a proposal made of a table.
type syncResult struct {
	changes []proposal.Change
	lines   []string // text output, before the summary
	summary string
	edited  []byte // the file with the proposal, or nil when it need not change
}

// syncOutput is what sync prints with --format json.
type syncOutput struct {
	Registry string            `json:"registry"`
	Kernels  []verifyKernel    `json:"kernels"`
	Changes  []proposal.Change `json:"changes"`
	Written  string            `json:"written,omitempty"`
	// StructOpsWritten is the struct_ops table kfuncs sync --write wrote, "" for none.
	StructOpsWritten string `json:"structops_written,omitempty"`
}

const helpersSyncUsage = `usage: bpfmatrix helpers sync [--in DIR | --kernels 5.10,7.3 ...] [--format text|json] [--write] [--registry FILE]
proposes the release facts the kernels' observations contradict or the registry lacks (with the
attach points that answer otherwise than their parent, from observations naming them) and,
with --write, edits them into the file (--registry, default registry/helpers.yaml) in place,
keeping its comments
`

const kfuncsSyncUsage = `usage: bpfmatrix kfuncs sync [--in DIR | --kernels 6.12,7.3 ...] [--format text|json] [--write] [--kfuncs FILE] [--structops FILE]
proposes the kfunc table from the kernels' observations (with the attach points that answer
otherwise than their parent, from observations naming them) and, with --write, edits it into the
file (--kfuncs, default registry/kfuncs.yaml) in place, keeping its comments, categories,
descriptions and notes; proposes the struct_ops kinds and members the kernels register and, with
--write, writes them (--structops, default registry/structops.yaml in a source checkout)
`

func helpersSync(args []string, stdout, stderr io.Writer) int {
	return runSync(syncTable{group: "helpers", fileFlag: "registry", usage: helpersSyncUsage,
		defaultFile: filepath.Join("registry", "helpers.yaml"), load: loadHelperSync}, args, stdout, stderr)
}

func kfuncsSync(args []string, stdout, stderr io.Writer) int {
	return runSync(syncTable{group: "kfuncs", fileFlag: "kfuncs", usage: kfuncsSyncUsage,
		defaultFile: filepath.Join("registry", "kfuncs.yaml"), load: loadKfuncSync, structOps: true}, args, stdout, stderr)
}

// runSync proposes a table from observations (the saved ones in --in, or the pipeline's:
// cached, booting what is missing), prints the changes and, with --write, edits them into the
// table's file in place.
func runSync(t syncTable, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	path := fs.String(t.fileFlag, "", t.group+" file to use instead of the built-in one")
	in := fs.String("in", "", "propose from the saved observations in DIR instead of observing the kernels")
	kernels := fs.String("kernels", "", "comma-separated kernel names of kernels.yaml (default: all)")
	write := fs.Bool("write", false, "edit the proposal into the file, in place")
	format := formatFlag(fs, "text", "json")
	gf := addGuestFlags(fs)
	sf := addSavedFlags(fs)
	var opsPath *string
	if t.structOps {
		opsPath = fs.String("structops", "", "struct_ops kinds file to propose from and, with --write, to write (default registry/structops.yaml)")
	}
	c := cmdline{t.group + " sync", t.usage}
	fail := func(code int, err error) int {
		c.say(stderr, err)
		return code
	}
	if _, code := c.parse(fs, 0, args, stdout, stderr); code >= 0 {
		return code
	}
	// --write edits a file: the proposal is made from that file, not from the table built into
	// this binary, which may be older than the checkout's.
	dst := *path
	if *write && dst == "" {
		dst = t.defaultFile
		if _, err := os.Stat(dst); err != nil {
			return fail(exitBadArgs, fmt.Errorf("--write needs --%s FILE outside the source tree", t.fileFlag))
		}
	}
	table, err := t.load(dst, *write)
	if err != nil {
		return fail(exitBadArgs, err)
	}
	rks, cached, err := syncKernels(*in, *kernels, gf, sf, stderr)
	if errors.Is(err, errBadInput) {
		return fail(exitBadArgs, err)
	}
	if err != nil {
		return fail(exitNo, err)
	}
	doc := syncOutput{Registry: table.file(), Kernels: []verifyKernel{}}
	vks := make([]verdict.Kernel, 0, len(rks))
	for _, k := range rks {
		vks = append(vks, k.Kernel)
		vk := verifyKernel{Name: k.Name, Version: k.Version.String(), Status: observation.StatusOK, Cached: cached == nil || cached[k.Name]}
		if k.Failed {
			vk.Status, vk.Error = observation.StatusFailed, k.Error
		}
		doc.Kernels = append(doc.Kernels, vk)
	}
	res, err := table.propose(vks, dst)
	if errors.Is(err, files.ErrRefused) {
		return fail(exitBadArgs, err)
	}
	if err != nil {
		return fail(exitNo, err)
	}
	doc.Changes = append([]proposal.Change{}, res.changes...)
	if *write && res.edited != nil {
		if err := files.WriteAtomic(dst, res.edited, 0o644); errors.Is(err, files.ErrRefused) {
			return fail(exitBadArgs, err)
		} else if err != nil {
			return fail(exitNo, err)
		}
		doc.Written = dst
	}
	if opsPath != nil {
		ops, err := syncStructOps(*opsPath, *write, vks)
		if err != nil {
			return fail(syncExit(err), err)
		}
		res.lines = append(res.lines, ops.line)
		doc.StructOpsWritten = ops.written
	}
	return printSync(stdout, stderr, *format, doc, res)
}

// printSync prints the proposal: the JSON document (the summary on stderr), or the table's
// lines, the summary and the file written.
func printSync(stdout, stderr io.Writer, format string, doc syncOutput, res syncResult) int {
	if format == "json" {
		fmt.Fprintln(stderr, res.summary)
		return writeJSON(stdout, stderr, doc)
	}
	for _, l := range res.lines {
		fmt.Fprintln(stdout, l)
	}
	fmt.Fprintln(stdout, res.summary)
	if doc.Written != "" {
		fmt.Fprintf(stdout, "wrote %s\n", doc.Written)
	}
	if doc.StructOpsWritten != "" {
		fmt.Fprintf(stdout, "wrote %s\n", doc.StructOpsWritten)
	}
	return exitOK
}

// helperSyncTable is the helper registry as sync sees it.
type helperSyncTable struct{ reg *registry.Registry }

// loadHelperSync reads a helper table: our YAML, or, when it is not to be written, another
// library's EDN or JSON table.
func loadHelperSync(path string, forWrite bool) (syncProposer, error) {
	if forWrite {
		reg, err := registry.Load(path)
		if err != nil {
			err = fmt.Errorf("--write edits our YAML registry: %w", err)
		}
		return helperSyncTable{reg}, err
	}
	reg, _, err := loadRegistry(path)
	return helperSyncTable{reg}, err
}

func (h helperSyncTable) file() string { return h.reg.File() }

func (h helperSyncTable) propose(kernels []verdict.Kernel, dst string) (syncResult, error) {
	updated, changes := proposal.Helpers(h.reg, kernels)
	failed := 0
	for _, k := range kernels {
		if k.Failed {
			failed++
		}
	}
	res := syncResult{changes: changes, summary: fmt.Sprintf("%d helpers against %d kernels (%d failed): %d changes to %d helpers",
		h.reg.Len(), len(kernels), failed, len(changes), len(updated))}
	for _, c := range changes {
		res.lines = append(res.lines, c.String())
	}
	if dst == "" || len(updated) == 0 {
		return res, nil
	}
	data, err := files.ReadRegular(dst, files.Registry)
	if err == nil {
		res.edited, err = yamledit.UpdateHelpers(dst, data, updated)
	}
	return res, err
}

// kfuncSyncTable is the kfunc table as sync sees it.
type kfuncSyncTable struct{ table *registry.Kfuncs }

func loadKfuncSync(path string, _ bool) (syncProposer, error) {
	t, err := loadKfuncs(path)
	return kfuncSyncTable{t}, err
}

func (k kfuncSyncTable) file() string { return k.table.File() }

func (k kfuncSyncTable) propose(kernels []verdict.Kernel, dst string) (syncResult, error) {
	proposed, changes := proposal.Kfuncs(k.table, kernels)
	res := syncResult{changes: changes}
	counts := map[string]int{}
	var fields map[string][]string
	var order []string
	for _, c := range changes {
		if c.Kind != proposal.Changed {
			counts[c.Kind]++
			if c.Kind == proposal.Added {
				order = append(order, c.Name)
			}
			continue
		}
		if fields == nil {
			fields = map[string][]string{}
		}
		if _, ok := fields[c.Name]; !ok {
			counts[c.Kind]++
			order = append(order, c.Name)
		}
		fields[c.Name] = append(fields[c.Name], c.Key)
	}
	for _, name := range order {
		if fs, ok := fields[name]; ok {
			res.lines = append(res.lines, fmt.Sprintf("changed %s: %v", name, fs))
		} else {
			res.lines = append(res.lines, "added "+name)
		}
	}
	res.summary = fmt.Sprintf("%d kfuncs: %d added, %d changed, %d unchanged, %d kept (seen by no kernel)",
		len(proposed), counts[proposal.Added], counts[proposal.Changed], counts[proposal.Unchanged], counts[proposal.Kept])
	if dst == "" {
		return res, nil
	}
	// Unlike helpers sync, kfuncs sync has always written the file with --write (and said so),
	// also when nothing changes; the edit then gives the file back as it is.
	data, err := files.ReadRegular(dst, files.Registry)
	if err == nil {
		res.edited, err = proposal.EditKfuncs(dst, data, proposed, changes)
	}
	return res, err
}

// syncKernels returns the kernels a sync command proposes from: the saved observations in dir
// when it is set, else every selected kernel of the kernels file, from the observation cache or
// booted (cached says which came from the cache; nil for saved ones). err wraps errBadInput
// when the input is at fault.
func syncKernels(dir, kernels string, gf *guestFlags, sf *savedFlags, stderr io.Writer) (rks []report.Kernel, cached map[string]bool, err error) {
	if dir != "" {
		if kernels != "" {
			return nil, nil, fmt.Errorf("%w: --in reads saved observations: --kernels does not apply", errBadInput)
		}
		// As for verify --in: guestOptions settles which kernels file (and so which lock) the
		// saved observations are read beside, the built-in one outside a checkout.
		if _, err := gf.guestOptions(""); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", errBadInput, err)
		}
		rks, err := sf.read(dir, gf.kernelsFile, stderr)
		if err != nil && !errors.Is(err, errBadInput) {
			err = fmt.Errorf("%w: %w", errBadInput, err)
		}
		if err != nil {
			return nil, nil, err
		}
		return rks, nil, nil
	}
	opts, err := gf.options(kernels)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errBadInput, err)
	}
	return observeKernels(opts, "", false, stderr)
}
