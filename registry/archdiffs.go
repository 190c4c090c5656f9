package registry

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// EmbeddedArchDiffsFile is the name under which the embedded table of architecture differences
// reports errors.
const EmbeddedArchDiffsFile = "registry/archdiffs.yaml"

// ArchDiffs is the registry's record of where another architecture's kernels answer otherwise
// than amd64's of the same release. helpers.yaml and kfuncs.yaml state amd64's facts; this table
// holds only the exceptions, each confirmed by every boot of the other architecture's build
// (two or more), and the releases whose builds were compared at all, so that a question about
// a release nobody compared is told so rather than answered as if it had been. Its file,
// archdiffs.yaml, is written by `bpfmatrix arch sync` from the kernels' observations.
type ArchDiffs struct {
	source
	// Compared lists the (release, architecture) builds compared with amd64, by release.
	Compared []ArchCompared
	// Differences lists every answer that differs, in file order (sync writes them sorted).
	Differences []ArchDifference
}

// ArchCompared is one release whose build for Arch was compared with its amd64 build.
type ArchCompared struct {
	// Release is the release series ("6.12").
	Release Version          `json:"release"`
	Arch    observation.Arch `json:"arch"`
	// Boots is how many boots of Arch's build answered; a difference is recorded only when all
	// of them agree on it, and a release is compared only with two or more.
	Boots int `json:"boots"`
}

// FunctionKind tells a helper's difference from a kfunc's: the two share names' shapes
// (bpf_...), not their tables.
type FunctionKind string

// The kinds of function a difference is about.
const (
	KindHelper FunctionKind = "helper"
	KindKfunc  FunctionKind = "kfunc"
)

// ArchDifference is one answer of Arch's kernel that differs from amd64's on the same release.
type ArchDifference struct {
	Kind FunctionKind `json:"kind"`
	// Name is the helper's C name (bpf_map_lookup_elem) or the kfunc's name.
	Name string `json:"name"`
	// Where is the attach point the probe loaded the call at, as the registry keys attach-point
	// facts (AttachPointKey): the bare program type for its default attachment ("tracing" is
	// fentry at any function), else the section key ("cgroup/connect4", "fentry/dentry_open").
	Where   string           `json:"where"`
	Release Version          `json:"release"`
	Arch    observation.Arch `json:"arch"`
	// Outcome and Words are Arch's kernel's answer and the verifier's own line for it;
	// AMD64Outcome and AMD64Words are amd64's.
	Outcome      observation.Outcome `json:"outcome"`
	Words        string              `json:"words"`
	AMD64Outcome observation.Outcome `json:"amd64_outcome"`
	AMD64Words   string              `json:"amd64_words"`
}

// Offered reports whether Arch's kernel offers the function at the place: the answer a
// compatibility question gets there.
func (d ArchDifference) Offered() bool { return d.Outcome.Offered() }

// String is the difference as one line: what the question's answers and reports print.
func (d ArchDifference) String() string {
	return fmt.Sprintf("%s at %s on %s %s: %s (%q); amd64: %s (%q)", d.Name, d.Where, d.Arch, d.Release,
		d.Outcome, d.Words, d.AMD64Outcome, d.AMD64Words)
}

// DefaultArchDiffs returns the table embedded in the binary.
func DefaultArchDiffs() (*ArchDiffs, error) {
	return parseEmbedded(EmbeddedArchDiffsFile, embeddedArchDiffs, ParseArchDiffs)
}

// LoadArchDiffs reads and validates a file of architecture differences (regular files of at
// most 16 MiB, files.Registry, only).
func LoadArchDiffs(path string) (*ArchDiffs, error) { return loadFile(path, ParseArchDiffs) }

// NewArchDiffs builds a table as sync proposes it, compared releases and differences sorted;
// file names it.
func NewArchDiffs(file string, compared []ArchCompared, diffs []ArchDifference) *ArchDiffs {
	slices.SortFunc(compared, func(a, b ArchCompared) int {
		if c := a.Release.Compare(b.Release); c != 0 {
			return c
		}
		return strings.Compare(string(a.Arch), string(b.Arch))
	})
	slices.SortFunc(diffs, compareDiffs)
	return &ArchDiffs{source: source{file: file}, Compared: compared, Differences: diffs}
}

// compareDiffs orders differences by release, architecture, kind, name and place.
func compareDiffs(a, b ArchDifference) int {
	if c := a.Release.Compare(b.Release); c != 0 {
		return c
	}
	for _, c := range []int{
		strings.Compare(string(a.Arch), string(b.Arch)), strings.Compare(string(a.Kind), string(b.Kind)),
		strings.Compare(a.Name, b.Name), strings.Compare(a.Where, b.Where),
	} {
		if c != 0 {
			return c
		}
	}
	return 0
}

// ComparedAt returns the comparison of kernel's release series for arch, false when its
// build for arch was not compared. amd64 is the registry's own architecture: always compared.
func (t *ArchDiffs) ComparedAt(kernel Version, arch observation.Arch) (ArchCompared, bool) {
	if arch == observation.ArchAMD64 {
		return ArchCompared{Release: kernel.Series(), Arch: arch}, true
	}
	for _, c := range t.Compared {
		if c.Arch == arch && c.Release == kernel.Series() {
			return c, true
		}
	}
	return ArchCompared{}, false
}

// ComparedReleases names the releases compared for arch, for the notes of answers about the
// others ("6.12, 7.3"; "none" when there are none).
func (t *ArchDiffs) ComparedReleases(arch observation.Arch) string {
	var out []string
	for _, c := range t.Compared {
		if c.Arch == arch {
			out = append(out, c.Release.String())
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// At returns the difference that answers for the function name of kind at where (a program type
// or a section name, as a compatibility question names it) on kernel for arch. As the
// registry's facts do, an attach point without a recorded difference answers as the points up
// its chain (PointChain) and then its program type: a difference observed at fentry's default
// attachment answers for fentry/vfs_read too. A where package section cannot read is an error.
func (t *ArchDiffs) At(kind FunctionKind, name, where string, kernel Version, arch observation.Arch) (ArchDifference, bool, error) {
	s, err := parseWhere(where)
	if err != nil {
		return ArchDifference{}, false, err
	}
	chain := append(PointChain(s), s.ProgType)
	for _, key := range chain {
		for _, d := range t.Differences {
			if d.Kind == kind && d.Name == name && d.Where == key && d.Arch == arch && d.Release == kernel.Series() {
				return d, true, nil
			}
		}
	}
	return ArchDifference{}, false, nil
}

// Of returns the differences recorded for the function name of kind on arch, in file order.
func (t *ArchDiffs) Of(kind FunctionKind, name string, arch observation.Arch) []ArchDifference {
	var out []ArchDifference
	for _, d := range t.Differences {
		if d.Kind == kind && d.Name == name && d.Arch == arch {
			out = append(out, d)
		}
	}
	return out
}

// On returns the differences recorded for functions of kind on kernel's release series for
// arch, in file order: what a listing of that kernel's functions applies.
func (t *ArchDiffs) On(kind FunctionKind, kernel Version, arch observation.Arch) []ArchDifference {
	var out []ArchDifference
	for _, d := range t.Differences {
		if d.Kind == kind && d.Arch == arch && d.Release == kernel.Series() {
			out = append(out, d)
		}
	}
	return out
}
