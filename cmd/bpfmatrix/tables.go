package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/section"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// Helpers and kfuncs are one kind of thing: functions a BPF program calls, offered by some
// kernels to some program types. Their query commands (list, info, categories, compat) are
// written once, here, over a table; each table says only how its entries are found and shown.

// table is one registry table, whose entries are E, as the query commands see it.
type table[E any] interface {
	// entries returns every entry, in the table's order.
	entries() []E
	// Find resolves what a person typed (registry.Registry's and registry.Kfuncs' Find).
	Find(name string) (E, error)
	// Available returns the entries declared for where, a program type or a section name (on
	// kernel, when not nil).
	Available(where string, kernel *registry.Version) ([]E, error)
	// onKernel returns the entries declared present on kernel, in any program type.
	onKernel(kernel registry.Version) []E
	// category names the category of e; knownCategories are those an entry may have.
	category(e E) string
	knownCategories() []string
	// compat answers whether e may be called at where, a program type or a section name, on
	// kernel, with the sentence that says why and a note qualifying the answer ("" for none:
	// see registry.Place.Note).
	compat(e E, where string, kernel registry.Version) (ok bool, why, note string, err error)
	// listHeader and listRow are the lines of list's table, cells separated by tabs.
	listHeader() string
	listRow(e E) string
	// archKind is what the table's entries are in archdiffs.yaml; archName names e there.
	archKind() registry.FunctionKind
	archName(e E) string
	// describe renders e for info.
	describe(e E) string
	// categoriesJSON is the JSON document of categories; categoriesLayout its table.
	categoriesJSON(counts []categoryCount) any
	categoriesLayout() categoriesLayout
}

// categoryCount is how many entries one category holds.
type categoryCount struct {
	name  string
	count int
}

// categoriesLayout is how categories prints its table: helpers and kfuncs printed it
// differently before their commands were one, and scripts read both.
type categoriesLayout struct {
	header            string // the heading line, "" for none
	minWidth, padding int    // of the name column (text/tabwriter)
}

// tableGroup is the command group over one table (helpers, kfuncs).
type tableGroup[E any] struct {
	name, noun string // "helpers", "helper"
	usage      string
	// fileFlag declares the flag naming the table's file (--registry, --kfuncs).
	fileFlag func(fs *flag.FlagSet) *string
	// load reads the table in path, the built-in one when path is empty.
	load func(path string) (table[E], error)
	// other is the group of the other table: a kfunc name given to a helpers command is
	// answered with where to ask.
	other otherGroup
}

// otherGroup is what a table group knows of the other one.
type otherGroup interface {
	// has reports whether the group's built-in table holds name.
	has(name string) bool
	// names are the group's name and what it calls an entry.
	names() (group, noun string)
}

func (g *tableGroup[E]) has(name string) bool {
	t, err := g.load("")
	if err != nil {
		return false
	}
	_, err = t.Find(name)
	return err == nil
}

func (g *tableGroup[E]) names() (string, string) { return g.name, g.noun }

// queries are the group's query subcommands.
func (g *tableGroup[E]) queries() map[string]subcommand {
	return map[string]subcommand{"list": g.list, "info": g.info, "categories": g.categories, "compat": g.compat}
}

// setup parses a subcommand's flags and loads the table.
func (g *tableGroup[E]) setup(fs *flag.FlagSet, nargs int, args []string, stdout, stderr io.Writer) (cmdline, []string, table[E], int) {
	return setupTable(g, g.load, fs, nargs, args, stdout, stderr)
}

// setupTable parses the flags of a subcommand of g, with the table's file flag, checks its
// positional arguments and loads the file named with load. code is the exit code when the
// command is to end now (help, or bad input it has named), -1 when it goes on.
func setupTable[E, T any](g *tableGroup[E], load func(string) (T, error), fs *flag.FlagSet, nargs int, args []string, stdout, stderr io.Writer) (c cmdline, pos []string, t T, code int) {
	path := g.fileFlag(fs)
	c = cmdline{g.name + " " + fs.Name(), g.usage}
	if pos, code = c.parse(fs, nargs, args, stdout, stderr); code >= 0 {
		return c, nil, t, code
	}
	t, err := load(*path)
	if err != nil {
		return c, nil, t, c.fail(stderr, err)
	}
	return c, pos, t, -1
}

// setupEntry is setup for a subcommand whose first argument names an entry: it also finds it.
func (g *tableGroup[E]) setupEntry(fs *flag.FlagSet, nargs int, args []string, stdout, stderr io.Writer) (cmdline, []string, table[E], E, int) {
	var e E
	c, pos, t, code := g.setup(fs, nargs, args, stdout, stderr)
	if code >= 0 {
		return c, nil, nil, e, code
	}
	e, err := g.find(t, pos[0], fs.Name())
	if err != nil {
		return c, nil, nil, e, c.fail(stderr, err)
	}
	return c, pos, t, e, -1
}

// find is the table's Find; a name the table lacks but the other table holds is answered with
// the command that knows it.
func (g *tableGroup[E]) find(t table[E], name, sub string) (E, error) {
	e, err := t.Find(name)
	if err != nil && g.other.has(name) {
		group, noun := g.other.names()
		err = fmt.Errorf("%w (%s is a %s: see bpfmatrix %s %s)", err, name, noun, group, sub)
	}
	return e, err
}

func (g *tableGroup[E]) list(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	progType := fs.String("prog-type", "", "only "+g.name+" the registry declares for this program type (e.g. xdp) or section name (e.g. kprobe.session)")
	kernel := fs.String("kernel", "", "only "+g.name+" available on this kernel version (e.g. 6.1)")
	category := fs.String("category", "", "only "+g.name+" of this category")
	format := formatFlag(fs, "table", "json")
	opsPath := structOpsFlag(fs)
	aq := addArchQuestion(fs)
	c, _, t, code := g.setup(fs, 0, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	es, err := selectEntries(t, *progType, *kernel, *category)
	if err == nil {
		es, err = archSelect(aq, t, es, *progType, *kernel, *category, c, stderr)
	}
	if err != nil {
		return c.fail(stderr, err)
	}
	ops, note, err := listStructOps(*opsPath, *progType, *kernel)
	if err != nil {
		return c.fail(stderr, err)
	}
	if note != "" {
		es = nil
	} else {
		note = listNote(ops, *progType)
	}
	if note != "" {
		fmt.Fprintf(escapeControls(stderr), "bpfmatrix %s: note: %s\n", c.path, note)
	}
	if *format == "json" {
		if es == nil {
			es = []E{}
		}
		return writeJSON(stdout, stderr, es)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	// Escaped before the table is laid out, so that the columns count what is shown.
	w := escapeControls(tw)
	fmt.Fprintln(w, t.listHeader())
	for _, e := range es {
		fmt.Fprintln(w, t.listRow(e))
	}
	tw.Flush()
	return exitOK
}

// selectEntries returns the entries of t list shows for its flags (each empty when not given).
func selectEntries[E any](t table[E], progType, kernel, category string) ([]E, error) {
	var k *registry.Version
	if kernel != "" {
		v, err := registry.ParseVersion(kernel)
		if err != nil {
			return nil, fmt.Errorf("--kernel: %w", err)
		}
		k = &v
	}
	if known := t.knownCategories(); category != "" && !slices.Contains(known, category) {
		return nil, fmt.Errorf("unknown category %q (known: %s)", category, strings.Join(known, ", "))
	}
	es := t.entries()
	switch {
	case progType != "":
		var err error
		if es, err = t.Available(progType, k); err != nil {
			return nil, err
		}
	case k != nil:
		es = t.onKernel(*k)
	}
	if category != "" {
		es = slices.DeleteFunc(es, func(e E) bool { return t.category(e) != category })
	}
	return es, nil
}

func (g *tableGroup[E]) info(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	format := formatFlag(fs, "text", "json")
	aq := addArchQuestion(fs)
	c, _, t, e, code := g.setupEntry(fs, 1, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if err := aq.read(); err != nil {
		return c.fail(stderr, err)
	}
	if *format == "json" && aq.other() {
		doc, err := aq.infoJSON(e, t.archKind(), t.archName(e))
		if err != nil {
			return c.fail(stderr, err)
		}
		return writeJSON(stdout, stderr, doc)
	}
	if *format == "json" {
		return writeJSON(stdout, stderr, e)
	}
	w := escapeControls(stdout)
	fmt.Fprint(w, t.describe(e))
	if aq.other() {
		aq.infoText(w, t.archKind(), t.archName(e))
	}
	return exitOK
}

func (g *tableGroup[E]) categories(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("categories", flag.ContinueOnError)
	format := formatFlag(fs, "table", "json")
	_, _, t, code := g.setup(fs, 0, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	counts := map[string]int{}
	for _, e := range t.entries() {
		counts[t.category(e)]++
	}
	cats := make([]categoryCount, 0, len(counts))
	for name, n := range counts {
		cats = append(cats, categoryCount{name, n})
	}
	sort.Slice(cats, func(i, j int) bool { return cats[i].name < cats[j].name })
	if *format == "json" {
		return writeJSON(stdout, stderr, t.categoriesJSON(cats))
	}
	l := t.categoriesLayout()
	tw := tabwriter.NewWriter(stdout, l.minWidth, 4, l.padding, ' ', 0)
	w := escapeControls(tw)
	if l.header != "" {
		fmt.Fprintln(w, l.header)
	}
	for _, c := range cats {
		fmt.Fprintf(w, "%s\t%d\n", c.name, c.count)
	}
	tw.Flush()
	return exitOK
}

func (g *tableGroup[E]) compat(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compat", flag.ContinueOnError)
	opsPath := structOpsFlag(fs)
	aq := addArchQuestion(fs)
	c, pos, t, e, code := g.setupEntry(fs, 3, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	v, err := registry.ParseVersion(pos[2])
	if err == nil {
		err = aq.read()
	}
	if err != nil {
		return c.fail(stderr, err)
	}
	ops, err := loadStructOps(*opsPath)
	if err != nil {
		return c.fail(stderr, err)
	}
	absent, why, err := structOpsAnswer(ops, pos[1], v)
	if err != nil {
		return c.fail(stderr, err)
	}
	if absent {
		fmt.Fprintf(escapeControls(stdout), "not compatible: %s\n", why)
		return exitNo
	}
	ok, why, note, err := t.compat(e, pos[1], v)
	if err == nil && aq.other() {
		var archNote string
		ok, why, archNote, err = aq.compat(t.archKind(), t.archName(e), pos[1], v, ok, why)
		if archNote != "" {
			fmt.Fprintf(stderr, "bpfmatrix %s: note: %s\n", c.path, archNote)
		}
	}
	if err != nil {
		return c.fail(stderr, err)
	}
	note = uncheckedNote(ops, pos[1], note)
	if newest, found := newestTested(); found && newest.Series().Less(v.Series()) {
		fmt.Fprintf(stderr, "bpfmatrix %s: note: %s is past the newest kernel tested (%s): the answer extends the registry's facts to kernels no observation has checked\n", c.path, v, newest)
	}
	w := escapeControls(stdout)
	code, verdict := exitOK, "compatible"
	if !ok {
		code, verdict = exitNo, "not compatible"
	}
	fmt.Fprintf(w, "%s: %s\n", verdict, why)
	if note != "" {
		fmt.Fprintf(w, "note: %s\n", note)
	}
	return code
}

// listNote is what list says about a --prog-type that names a section rather than a program
// type: the entries without facts of that attach point are listed for its program type.
func listNote(ops *registry.StructOps, where string) string {
	if where == "" || registry.BareProgType(where) {
		return ""
	}
	s, err := section.Parse(where)
	if err != nil {
		return ""
	}
	note := fmt.Sprintf("entries with no facts recorded for %s are listed for its program type %s", registry.AttachPointKey(s), s.ProgType)
	return uncheckedNote(ops, where, note)
}

// newestTested is the newest kernel pinned in the kernels file's lock: the registry's facts
// were checked against the kernels up to it.
func newestTested() (registry.Version, bool) {
	var newest registry.Version
	cfg, err := vmimages.LoadConfig(vmimages.DefaultKernelsFile())
	if err != nil {
		return newest, false
	}
	lock, err := vmimages.LoadLock(cfg.LockPath())
	if err != nil {
		return newest, false
	}
	for _, e := range lock.Entries {
		if v, err := registry.ParseVersion(e.Version); err == nil && newest.Less(v) {
			newest = v
		}
	}
	return newest, !newest.IsZero()
}

// fileOrBuiltin loads the table in path, or the built-in one when path is empty.
func fileOrBuiltin[T any](path string, load func(string) (T, error), builtin func() (T, error)) (T, error) {
	if path == "" {
		return builtin()
	}
	return load(path)
}

// declaresNone reports whether an entry is declared for no program type at all: a refusal
// then says so, rather than listing an empty set ("(declared: )").
func declaresNone(p registry.ProgTypes) bool {
	return !p.All && len(p.Types) == 0
}
