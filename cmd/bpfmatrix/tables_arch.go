package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// The query commands' --arch: helpers.yaml and kfuncs.yaml state amd64's facts, and
// archdiffs.yaml the answers another architecture's kernels give otherwise on the same release.
// Without --arch (or with amd64) nothing here runs, so amd64's answers are what they were.

// archQuestion is the --arch and --archdiffs flags of a query command.
type archQuestion struct {
	word, file *string
	// arch and diffs are what the flags name once read; diffs is nil for amd64.
	arch  observation.Arch
	diffs *registry.ArchDiffs
}

// addArchQuestion declares --arch and --archdiffs on a query command.
func addArchQuestion(fs *flag.FlagSet) *archQuestion {
	return &archQuestion{
		word: archFlag(fs, "answer for the kernels of this architecture: amd64, or arm64 (the registry's answers with the differences archdiffs.yaml records)"),
		file: archDiffsFlag(fs, "architecture differences file to use instead of the built-in one"),
	}
}

// read reads the flags' architecture and, for another than amd64 or when --archdiffs is given,
// the table of differences (the built-in one without --archdiffs; an empty one in a build
// without it).
func (a *archQuestion) read() error {
	arch, err := archOf(*a.word)
	if err != nil {
		return err
	}
	a.arch = arch
	if arch == observation.ArchAMD64 && *a.file == "" {
		return nil
	}
	t, err := loadArchDiffs(*a.file)
	if err != nil {
		return fmt.Errorf("--archdiffs: %w", err)
	}
	if arch != observation.ArchAMD64 {
		a.diffs = t
	}
	return nil
}

// other reports whether the question is about another architecture than amd64.
func (a *archQuestion) other() bool { return a.diffs != nil }

// uncompared is the note of an answer about kernel, whose build for the architecture was not
// compared with amd64's: "" when it was.
func (a *archQuestion) uncompared(kernel registry.Version) string {
	if _, ok := a.diffs.ComparedAt(kernel, a.arch); ok {
		return ""
	}
	return fmt.Sprintf("the %s build of %s was not compared with amd64's (compared: %s): the answer is amd64's",
		a.arch, kernel.Series(), a.diffs.ComparedReleases(a.arch))
}

// compat is the answer for another architecture: the difference recorded at where on kernel,
// else amd64's answer (ok, why) as it is; note is said on stderr.
func (a *archQuestion) compat(kind registry.FunctionKind, name, where string, kernel registry.Version, ok bool, why string) (bool, string, string, error) {
	if note := a.uncompared(kernel); note != "" {
		return ok, why, note, nil
	}
	d, found, err := a.diffs.At(kind, name, where, kernel, a.arch)
	if err != nil || !found {
		return ok, why, "", err
	}
	verb := "is offered"
	if !d.Offered() {
		verb = "is not offered"
	}
	return d.Offered(), fmt.Sprintf("%s %s at %s on %s %s: the kernel answers %s (%q) where amd64's answers %s (%q)",
		name, verb, d.Where, d.Arch, kernel, d.Outcome, d.Words, d.AMD64Outcome, d.AMD64Words), "", nil
}

// archSelect is list's selection es for another architecture than amd64 (as it is for amd64):
// with --kernel, archList's; without, amd64's with a note, the differences being per release.
func archSelect[E any](a *archQuestion, t table[E], es []E, progType, kernel, category string, c cmdline, stderr io.Writer) ([]E, error) {
	if err := a.read(); err != nil || !a.other() {
		return es, err
	}
	note := fmt.Sprintf("--arch %s applies the differences of one release: give --kernel (the list is amd64's)", a.arch)
	if kernel != "" {
		v, err := registry.ParseVersion(kernel)
		if err != nil {
			return nil, fmt.Errorf("--kernel: %w", err)
		}
		if es, note, err = archList(a, t, es, progType, category, v); err != nil {
			return nil, err
		}
	}
	if note != "" {
		fmt.Fprintf(stderr, "bpfmatrix %s: note: %s\n", c.path, note)
	}
	return es, nil
}

// archList applies the differences recorded on kernel to es, the entries amd64's kernel of the
// release has at progType (anywhere when ""): an entry the architecture's kernel refuses there
// leaves, one it offers comes in, in the table's order. Without a progType, an entry leaves
// when every difference recorded for it says the kernel does not know it. category, when set,
// still holds. note is said on stderr.
func archList[E any](a *archQuestion, t table[E], es []E, progType, category string, kernel registry.Version) ([]E, string, error) {
	if note := a.uncompared(kernel); note != "" {
		return es, note, nil
	}
	var out []E
	for _, e := range t.entries() {
		in := slices.ContainsFunc(es, func(x E) bool { return t.archName(x) == t.archName(e) })
		offered, found, err := archOffered(a, t, e, progType, kernel)
		if err != nil {
			return nil, "", err
		}
		if found {
			in = offered && (category == "" || t.category(e) == category)
		}
		if in {
			out = append(out, e)
		}
	}
	return out, "", nil
}

// archOffered is whether the architecture's kernel offers e at progType (anywhere when "") on
// kernel, found false when no difference says.
func archOffered[E any](a *archQuestion, t table[E], e E, progType string, kernel registry.Version) (offered, found bool, err error) {
	kind, name := t.archKind(), t.archName(e)
	if progType != "" {
		d, found, err := a.diffs.At(kind, name, progType, kernel, a.arch)
		return d.Offered(), found, err
	}
	ds := slices.DeleteFunc(a.diffs.On(kind, kernel, a.arch), func(d registry.ArchDifference) bool { return d.Name != name })
	if len(ds) == 0 {
		return false, false, nil
	}
	unknown := !slices.ContainsFunc(ds, func(d registry.ArchDifference) bool { return d.Outcome != observation.UnknownID })
	return !unknown, true, nil
}

// infoText writes the differences recorded for the function name of kind, after its
// description.
func (a *archQuestion) infoText(w io.Writer, kind registry.FunctionKind, name string) {
	ds := a.diffs.Of(kind, name, a.arch)
	fmt.Fprintf(w, "%s differences from amd64 (releases compared: %s):\n", a.arch, a.diffs.ComparedReleases(a.arch))
	if len(ds) == 0 {
		fmt.Fprintln(w, "  none recorded")
	}
	for _, d := range ds {
		fmt.Fprintf(w, "  %s at %s: %s (%q); amd64: %s (%q)\n", d.Release, d.Where, d.Outcome, d.Words, d.AMD64Outcome, d.AMD64Words)
	}
}

// infoJSON returns doc, the JSON of an entry (an object), with arch_differences added last.
func (a *archQuestion) infoJSON(doc any, kind registry.FunctionKind, name string) (json.RawMessage, error) {
	obj, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	ds := a.diffs.Of(kind, name, a.arch)
	if ds == nil {
		ds = []registry.ArchDifference{}
	}
	extra, err := json.Marshal(ds)
	if err != nil {
		return nil, err
	}
	obj = bytes.TrimSpace(obj)
	if len(obj) < 2 || obj[len(obj)-1] != '}' {
		return nil, fmt.Errorf("%s: not a JSON object", name)
	}
	sep := ","
	if strings.TrimSpace(string(obj[1:len(obj)-1])) == "" {
		sep = ""
	}
	out := append(obj[:len(obj)-1:len(obj)-1], []byte(sep+`"arch_differences":`)...)
	out = append(out, extra...)
	return append(out, '}'), nil
}
