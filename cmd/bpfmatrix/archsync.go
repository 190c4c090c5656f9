package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/proposal"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

func init() {
	registerGroup("arch", "record where another architecture's kernels answer otherwise than amd64's (archdiffs.yaml)", archUsage, map[string]subcommand{
		"sync": runArchSync,
	})
}

const archUsage = `usage:
  bpfmatrix arch sync --arch arm64 [--archdiffs FILE] [--format text|json] [--write] DIR...
sync compares, release by release, the observation documents in the DIRs (bpfmatrix run --out:
NAME.json of amd64, NAME-arm64.json of arm64, of one boot per DIR) of the --arch architecture with
amd64's of the same release. A release is compared when two or more boots of its --arch build
are given, and a difference is recorded only when every boot shows it; with a single boot the
differences it shows are printed as unconfirmed and nothing is recorded for the release. The
releases compared replace theirs in the file; the file's other releases are kept. It prints the
differences and the proposed file and, with --write, writes it (--archdiffs, default
registry/archdiffs.yaml in a source checkout), which helpers|kfuncs list|info|compat --arch read
`

// archSyncOutput is what arch sync prints with --format json.
type archSyncOutput struct {
	Archdiffs string           `json:"archdiffs"`
	Arch      observation.Arch `json:"arch"`
	Documents []archSyncDoc    `json:"documents"`
	// Compared are the releases compared now; Differences their differences, every boot agreeing.
	Compared    []registry.ArchCompared   `json:"compared"`
	Differences []registry.ArchDifference `json:"differences"`
	// Unconfirmed are the differences of a release with one boot; Unsettled the answers the boots
	// disagree on. Neither is recorded.
	Unconfirmed []registry.ArchDifference `json:"unconfirmed"`
	Unsettled   []proposal.ArchUnsettled  `json:"unsettled"`
	Notes       []string                  `json:"notes"`
	// Changed says the proposed file differs from the current one; Written names the file
	// written ("" without --write).
	Changed bool   `json:"changed"`
	Written string `json:"written,omitempty"`
}

// archSyncDoc is one document read.
type archSyncDoc struct {
	Path    string           `json:"path"`
	Release string           `json:"release"`
	Arch    observation.Arch `json:"arch"`
}

func runArchSync(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	word := archFlag(fs, "the architecture whose documents are compared with amd64's: arm64")
	path := archDiffsFlag(fs, "architecture differences file to propose from and, with --write, to write (default registry/archdiffs.yaml)")
	write := fs.Bool("write", false, "write the proposed file")
	format := formatFlag(fs, "text", "json")
	c := cmdline{"arch sync", archUsage}
	dirs, code := c.parse(fs, -1, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	arch, err := archOf(*word)
	if err == nil && arch == observation.ArchAMD64 {
		err = errors.New("--arch: amd64 is what the other architectures are compared with: name another one (--arch arm64)")
	}
	if err == nil && len(dirs) == 0 {
		err = errors.New("name the directories of the observation documents")
	}
	if err != nil {
		return c.fail(stderr, err)
	}
	dst := *path
	if *write && dst == "" {
		if dst = filepath.Join("registry", "archdiffs.yaml"); !fileExists(dst) {
			return c.fail(stderr, errors.New("--write needs --archdiffs FILE outside the source tree"))
		}
	}
	current, err := loadArchDiffs(dst)
	if err != nil {
		return c.fail(stderr, err)
	}
	docs, err := readArchDocs(dirs)
	if err != nil {
		return c.fail(stderr, err)
	}
	p, err := proposal.CompareArch(current, arch, docs)
	if err != nil {
		return c.fail(stderr, err)
	}
	out := archSyncResult(current, arch, docs, p)
	data := p.Table.Encode()
	if *write && out.Changed {
		if err := files.WriteAtomic(dst, data, 0o644); errors.Is(err, files.ErrRefused) {
			return c.fail(stderr, err)
		} else if err != nil {
			c.say(stderr, err)
			return exitNo
		}
		out.Written = dst
	}
	if *format == "json" {
		return writeJSON(stdout, stderr, out)
	}
	printArchSync(escapeControls(stdout), out, data)
	return exitOK
}

// fileExists reports whether path names something that exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// loadArchDiffs loads the file in path, the built-in one when path is empty (an empty one in a
// build without it).
func loadArchDiffs(path string) (*registry.ArchDiffs, error) {
	if path != "" {
		return registry.LoadArchDiffs(path)
	}
	t, err := registry.DefaultArchDiffs()
	if err == registry.ErrNotEmbedded {
		return registry.NewArchDiffs(registry.EmbeddedArchDiffsFile, nil, nil), nil
	}
	return t, err
}

// readArchDocs reads every observation document (NAME.json, NAME.json.gz) in dirs, in name
// order per directory. A file of those names that is no document is an error naming it.
func readArchDocs(dirs []string) ([]proposal.ArchDocument, error) {
	var out []proposal.ArchDocument
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		n := len(out)
		for _, e := range ents {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") && !strings.HasSuffix(e.Name(), ".json.gz") {
				continue
			}
			p := filepath.Join(dir, e.Name())
			doc, err := observation.ReadFile(p)
			if err != nil {
				return nil, err
			}
			out = append(out, proposal.ArchDocument{Path: p, Doc: doc})
		}
		if len(out) == n {
			return nil, fmt.Errorf("%s: no observation documents (NAME.json)", dir)
		}
	}
	return out, nil
}

// archSyncResult is the output of a comparison of docs proposing p from current.
func archSyncResult(current *registry.ArchDiffs, arch observation.Arch, docs []proposal.ArchDocument, p proposal.ArchProposal) archSyncOutput {
	out := archSyncOutput{Archdiffs: current.File(), Arch: arch, Documents: []archSyncDoc{},
		Compared: nonNil(p.Compared), Differences: nonNil(p.Confirmed), Unconfirmed: nonNil(p.Unconfirmed),
		Unsettled: nonNil(p.Unsettled), Notes: nonNil(p.Notes),
		Changed: !bytes.Equal(p.Table.Encode(), current.Encode())}
	for _, d := range docs {
		a := observation.DefaultArch
		if d.Doc.Guest != nil && d.Doc.Guest.Arch != "" {
			a = d.Doc.Guest.Arch
		}
		out.Documents = append(out.Documents, archSyncDoc{Path: d.Path, Release: d.Doc.Kernel.Version, Arch: a})
	}
	return out
}

// nonNil is s, or an empty slice for nil: JSON lists are [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// printArchSync prints the comparison as text: the differences, what was not recorded and why,
// a summary, and the proposed file when it changes.
func printArchSync(w io.Writer, out archSyncOutput, data []byte) {
	for _, d := range out.Differences {
		fmt.Fprintf(w, "difference: %s\n", d)
	}
	for _, d := range out.Unconfirmed {
		fmt.Fprintf(w, "unconfirmed (one boot): %s\n", d)
	}
	for _, u := range out.Unsettled {
		fmt.Fprintf(w, "unsettled (not recorded): %s\n", u)
	}
	for _, n := range out.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	var rel []string
	for _, c := range out.Compared {
		rel = append(rel, fmt.Sprintf("%s (%d boots)", c.Release, c.Boots))
	}
	if len(rel) == 0 {
		rel = []string{"no release"}
	}
	fmt.Fprintf(w, "%s against amd64: compared %s: %d differences recorded, %d unconfirmed, %d unsettled\n",
		out.Arch, strings.Join(rel, ", "), len(out.Differences), len(out.Unconfirmed), len(out.Unsettled))
	switch {
	case out.Written != "":
		fmt.Fprintf(w, "wrote %s\n", out.Written)
	case out.Changed:
		fmt.Fprintf(w, "proposed %s (--write writes it):\n%s", out.Archdiffs, data)
	default:
		fmt.Fprintf(w, "%s is up to date\n", out.Archdiffs)
	}
}
