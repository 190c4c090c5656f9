package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/registry/foreign"
)

func init() {
	helpersGroup.other, kfuncsGroup.other = kfuncsGroup, helpersGroup
	sub := helpersGroup.queries()
	sub["export"], sub["sync"] = helpersExport, helpersSync
	registerGroup("helpers", "query the helper registry (list, info, categories, compat, export) and sync its releases from the kernels", helpersUsage, sub)
}

const helpersUsage = `usage:
  bpfmatrix helpers list [--prog-type T|SECTION] [--kernel V] [--category C] [--arch A] [--format table|json]
  bpfmatrix helpers info NAME|ID [--arch A] [--format text|json]
  bpfmatrix helpers categories [--format table|json]
  bpfmatrix helpers compat NAME PROG_TYPE|SECTION VERSION [--arch A]
  bpfmatrix helpers export [--format yaml|json|edn|c] [--out FILE]
  bpfmatrix helpers sync [--in DIR | --kernels 5.10,7.3 ...] [--format text|json] [--write]
list, info and compat take --arch arm64 to answer for arm64's kernels: the registry's answers
with the differences from amd64 that archdiffs.yaml (--archdiffs FILE) records for the releases
whose builds were compared (bpfmatrix arch sync); other releases get amd64's answer with a note;
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

// helpersGroup is the helpers command group.
var helpersGroup = &tableGroup[*registry.Helper]{
	name: "helpers", noun: "helper", usage: helpersUsage, fileFlag: registryFlag, load: loadHelperTable,
}

func loadHelperTable(path string) (table[*registry.Helper], error) {
	return loadHelpers(path)
}

// loadHelpers loads the registry in path (the built-in one for "") with its provenance.
func loadHelpers(path string) (helperTable, error) {
	reg, prov, err := loadRegistry(path)
	return helperTable{reg, prov}, err
}

// helperTable is the helper registry as the query commands see it, with the provenance of a
// foreign table's entries (nil for our YAML, where every fact is stated).
type helperTable struct {
	*registry.Registry
	prov *foreign.Provenance
}

func (t helperTable) entries() []*registry.Helper { return t.Helpers() }

// onKernel holds the helpers that exist on kernel: it has reached their first release.
func (t helperTable) onKernel(kernel registry.Version) []*registry.Helper { return t.ForKernel(kernel) }

func (helperTable) category(h *registry.Helper) string { return h.Category }

func (helperTable) knownCategories() []string { return registry.KnownCategories() }

// compat explains the registry's answer, so that the reason printed is the one that decided it.
func (t helperTable) compat(h *registry.Helper, where string, kernel registry.Version) (bool, string, string, error) {
	c, err := t.CheckAt(h.Name, where, kernel)
	switch {
	case err != nil:
		return false, "", "", err
	case c.OK && c.Reason != "": // ext, or an attach point's facts
		return true, c.Reason, c.Note, nil
	case c.OK:
		return true, fmt.Sprintf("%s may be called from %s programs on %s", h.CName(), c.ProgType, kernel), c.Note, nil
	case c.AttachPoint == "" && c.ProgType != registry.ExtProgType && declaresNone(h.ProgTypes):
		return false, fmt.Sprintf("%s is not offered to %s programs: the registry declares it for no program type", h.CName(), c.ProgType), c.Note, nil
	}
	return false, c.Reason, c.Note, nil
}

func (helperTable) archKind() registry.FunctionKind { return registry.KindHelper }

func (helperTable) archName(h *registry.Helper) string { return h.CName() }

func (helperTable) listHeader() string { return "ID\tNAME\tSINCE\tCATEGORY\tGPL\tPROG TYPES" }

func (t helperTable) listRow(h *registry.Helper) string {
	gpl := ""
	switch {
	case !t.prov.Claimed(h, "gpl_only"):
		gpl = "?" // a foreign table that does not say
	case h.GPLOnly:
		gpl = "gpl"
	}
	return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s", h.ID, h.CName(), h.MinKernel, h.Category, gpl, abbreviate(h.ProgTypes.String(), 60))
}

// describe is the entry and, for another library's table, where it stands there and which facts
// it leaves out.
func (t helperTable) describe(h *registry.Helper) string {
	s := h.Describe()
	if t.prov.Foreign() {
		s += fmt.Sprintf("\n  written as: %s\n", t.prov.WrittenAs(h))
		if missing := t.prov.Unclaimed(h); len(missing) > 0 {
			s += fmt.Sprintf("  not stated there (defaults shown): %s\n", strings.Join(missing, ", "))
		}
	}
	return s
}

// helperCategory is one element of helpers categories --format json.
type helperCategory struct {
	Name    string `json:"name"`
	Helpers int    `json:"helpers"`
}

func (helperTable) categoriesJSON(counts []categoryCount) any {
	out := make([]helperCategory, len(counts))
	for i, c := range counts {
		out[i] = helperCategory{c.name, c.count}
	}
	return out
}

func (helperTable) categoriesLayout() categoriesLayout {
	return categoriesLayout{header: "CATEGORY\tHELPERS", padding: 2}
}

// helpersExport writes the table in one of the formats other tools read: our YAML, the JSON of
// helpers list, a Clojure library's EDN map, or a C header.
func helpersExport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	format := formatFlag(fs, "yaml", "json", "edn", "c")
	out := fs.String("out", "", "write to this file (atomically) instead of standard output")
	c, _, t, code := setupTable(helpersGroup, loadHelpers, fs, 0, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	var opts foreign.ExportOptions
	if ext := strings.ToLower(filepath.Ext(*out)); ext == ".clj" || ext == ".cljc" {
		opts.EDNDef = "helper-metadata" // Clojure source keeps the table in a def
	}
	var buf bytes.Buffer
	if err := foreign.Export(&buf, t.Registry, t.prov, foreign.Format(*format), opts); err != nil {
		return c.fail(stderr, err)
	}
	if *out == "" {
		stdout.Write(buf.Bytes()) // a failed write is said by dispatch
		return exitOK
	}
	if err := files.WriteAtomic(*out, buf.Bytes(), 0o644); err != nil {
		return c.fail(stderr, fmt.Errorf("--out: %w", err))
	}
	return exitOK
}
