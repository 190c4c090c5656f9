package main

import (
	"flag"
	"fmt"
	"slices"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

func init() {
	sub := kfuncsGroup.queries()
	sub["sync"] = kfuncsSync
	registerGroup("kfuncs", "query the kfunc registry (list, info, categories, compat) and sync it from the kernels", kfuncsUsage, sub)
}

const kfuncsUsage = `usage:
  bpfmatrix kfuncs list [--prog-type T|SECTION] [--kernel V] [--category C] [--arch A] [--format table|json]
  bpfmatrix kfuncs info NAME [--arch A] [--format text|json]
  bpfmatrix kfuncs categories [--format table|json]
  bpfmatrix kfuncs compat NAME PROG_TYPE|SECTION VERSION [--arch A]
  bpfmatrix kfuncs sync [--in DIR | --kernels 6.12,7.3 ...] [--write]
list, info and compat take --arch arm64 to answer for arm64's kernels: the registry's answers
with the differences from amd64 that archdiffs.yaml (--archdiffs FILE) records for the releases
whose builds were compared (bpfmatrix arch sync); other releases get amd64's answer with a note;
every subcommand takes --kfuncs FILE to read another kfunc file than the built-in one;
sync proposes the file from the kernels' observations and, with --write, writes it
(to --kfuncs, default registry/kfuncs.yaml), keeping categories, descriptions and notes;
it also proposes the struct_ops kinds and members the kernels register, written with --write
to --structops FILE (default registry/structops.yaml), which compat and list (also taking
--structops FILE) check a struct_ops/KIND.MEMBER against
`

// loadKfuncs returns the kfunc table in path, or the embedded one when path is empty.
func loadKfuncs(path string) (*registry.Kfuncs, error) {
	return fileOrBuiltin(path, registry.LoadKfuncs, registry.DefaultKfuncs)
}

// kfuncsFlag adds the --kfuncs flag of the commands that read the kfunc table (a kfunc file;
// run's list of kfunc names is --kfunc-names).
func kfuncsFlag(fs *flag.FlagSet) *string {
	return fs.String("kfuncs", "", "kfunc file to use instead of the built-in one")
}

// kfuncsGroup is the kfuncs command group.
var kfuncsGroup = &tableGroup[*registry.Kfunc]{
	name: "kfuncs", noun: "kfunc", usage: kfuncsUsage, fileFlag: kfuncsFlag,
	load: func(path string) (table[*registry.Kfunc], error) {
		ks, err := loadKfuncs(path)
		return kfuncTable{ks}, err
	},
}

// kfuncTable is the kfunc table as the query commands see it.
type kfuncTable struct{ *registry.Kfuncs }

func (t kfuncTable) entries() []*registry.Kfunc { return t.All() }

// onKernel holds the kfuncs kernel has: between their first and last release, outside gaps.
func (t kfuncTable) onKernel(kernel registry.Version) []*registry.Kfunc {
	return slices.DeleteFunc(t.All(), func(k *registry.Kfunc) bool {
		exists, _ := k.Exists(kernel)
		return !exists
	})
}

func (kfuncTable) category(k *registry.Kfunc) string { return k.Category }

func (kfuncTable) knownCategories() []string { return registry.KfuncCategories }

func (t kfuncTable) compat(k *registry.Kfunc, where string, kernel registry.Version) (bool, string, string, error) {
	ok, why, p, err := t.CompatibleAt(k.Name, where, kernel)
	switch {
	case err != nil:
		return false, "", "", err
	case ok:
		// Offered with conditions: the verifier lets the call through, but programs of the type
		// may not hold the object the kfunc works on, so no real program can use it there.
		if c, found := k.ConditionOn(p.ProgType(), kernel); found {
			return false, c.Explain(k.Name, p.ProgType()) + " (" + kernel.String() + ")", p.Note, nil
		}
	}
	switch {
	case ok && p.Key != "": // an attach point's facts, whose sentence names the kernel
		return true, why, p.Note, nil
	case ok:
		return true, why + " on " + kernel.String(), p.Note, nil
	}
	if exists, _ := k.Exists(kernel); exists && p.Key == "" && declaresNone(k.ProgTypes) {
		why = fmt.Sprintf("%s is not callable from %s programs: the registry declares it for no program type", k.Name, p.ProgType())
	}
	return false, why, p.Note, nil
}

func (kfuncTable) archKind() registry.FunctionKind { return registry.KindKfunc }

func (kfuncTable) archName(k *registry.Kfunc) string { return k.Name }

func (kfuncTable) listHeader() string { return "NAME\tSINCE\tCATEGORY\tPROG TYPES" }

func (kfuncTable) listRow(k *registry.Kfunc) string {
	return fmt.Sprintf("%s\t%s\t%s\t%s", k.Name, k.MinKernel, k.Category, k.ProgTypes)
}

func (kfuncTable) describe(k *registry.Kfunc) string { return k.Describe() }

// categoriesJSON is a map from category to count, as kfuncs categories wrote it before helpers
// and kfuncs shared the command.
func (kfuncTable) categoriesJSON(counts []categoryCount) any {
	out := make(map[string]int, len(counts))
	for _, c := range counts {
		out[c.name] = c.count
	}
	return out
}

// categoriesLayout is the layout of "%-10s %d" lines, without a heading.
func (kfuncTable) categoriesLayout() categoriesLayout {
	return categoriesLayout{minWidth: 11, padding: 1}
}
