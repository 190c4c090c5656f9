// Package registry holds the table of BPF helper functions (id, name, prototype, first kernel,
// program types, GPL flag, category, description) and answers questions about it: what is id 130,
// which helpers may an XDP program call on 6.1, is bpf_d_path usable from LSM on 5.10.
//
// The table is the file helpers.yaml, embedded in the binary; Load reads another file of the same
// format. The loader is strict: unknown keys, duplicates and bad values are errors naming file and
// line, because the file is edited by hand and a silent typo would become a wrong answer.
package registry

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
)

// EmbeddedFile is the name under which the embedded registry reports errors and provenance.
const EmbeddedFile = "registry/helpers.yaml"

// ErrUnknownHelper is returned (wrapped) for a helper name or id the registry does not hold.
var ErrUnknownHelper = errors.New("unknown helper")

// ErrUnknownProgType is returned (wrapped) for a program type name the kernel does not define.
var ErrUnknownProgType = errors.New("unknown program type")

// Registry is a loaded, validated helper table. It is immutable after loading and safe for
// concurrent use.
type Registry struct {
	table[*Helper] // id order
	byID           map[int]*Helper
}

// ErrNotEmbedded is returned by Default in a guest-agent build, which leaves the table out so
// that an edit of helpers.yaml does not change the agent binary (observations are cached by the
// agent's hash and must survive registry edits).
var ErrNotEmbedded = errors.New("registry: this build has no embedded helper table (built with -tags " + AgentBuildTag + ")")

// AgentBuildTag is the build tag of guest-agent builds, which embed no helper table.
const AgentBuildTag = "bpfmatrix_agent"

// Default returns the registry embedded in the binary.
func Default() (*Registry, error) { return parseEmbedded(EmbeddedFile, embedded, Parse) }

// Load reads and validates a registry file. It refuses anything that is not a regular file (a
// FIFO would block the read, /dev/zero would never end it) and files larger than files.Registry
// allows (16 MiB).
func Load(path string) (*Registry, error) { return loadFile(path, Parse) }

// ReadFile reads a registry file of any format with the checks of Load: a regular file of at most
// 16 MiB (files.Registry), so that a FIFO, a device or a disk image named by mistake is refused.
func ReadFile(path string) ([]byte, error) {
	return files.ReadRegular(path, files.Registry)
}

// parseEmbedded parses data, a table embedded in the binary under the name file, or returns
// ErrNotEmbedded when the build left it out. Default and DefaultKfuncs share it.
func parseEmbedded[T any](file string, data []byte, parse func(string, []byte) (*T, error)) (*T, error) {
	if data == nil {
		return nil, ErrNotEmbedded
	}
	return parse(file, data)
}

// loadFile reads path with the checks of ReadFile and parses it. Load and LoadKfuncs share it.
func loadFile[T any](path string, parse func(string, []byte) (*T, error)) (*T, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(path, data)
}

// Helpers returns every helper in id order. The slice is a copy; the entries are shared.
func (r *Registry) Helpers() []*Helper { return slices.Clone(r.entries) }

// ByID returns the helper with the given kernel id.
func (r *Registry) ByID(id int) (*Helper, bool) {
	h, ok := r.byID[id]
	return h, ok
}

// Lookup returns the helper with the given name, written with or without the bpf_ prefix.
func (r *Registry) Lookup(name string) (*Helper, bool) {
	h, ok := r.byName[strings.TrimPrefix(name, "bpf_")]
	return h, ok
}

// Find resolves what a person typed: a helper name (with or without bpf_) or a decimal id.
func (r *Registry) Find(nameOrID string) (*Helper, error) {
	if id, err := strconv.Atoi(nameOrID); err == nil {
		if h, ok := r.ByID(id); ok {
			return h, nil
		}
		return nil, fmt.Errorf("%w: id %d", ErrUnknownHelper, id)
	}
	if h, ok := r.Lookup(nameOrID); ok {
		return h, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownHelper, nameOrID)
}

// ByCategory returns the helpers of one category in id order (none for an unknown category).
func (r *Registry) ByCategory(category string) []*Helper {
	return r.filter(func(h *Helper) bool { return h.Category == category })
}

// Available returns, in id order, the helpers the registry declares for where, a program type or
// a section name (see Availability.Locate); when kernel is not nil, only those that kernel offers
// (first release, per-type first and last release, gaps, attach-point facts). For ext it returns
// the helpers some program an ext program may replace can call (see Check).
func (r *Registry) Available(where string, kernel *Version) ([]*Helper, error) {
	return r.available(where, kernel, func(h *Helper, progType string, k Version) bool { return h.check(progType, k).OK })
}

// Compatible reports whether the registry declares helper (a name, with or without bpf_, or an
// id) usable from progType on kernel. For ext it reports whether some program type an ext program
// may replace has the helper; Check says which.
func (r *Registry) Compatible(helper, progType string, kernel Version) (bool, error) {
	c, err := r.Check(helper, progType, kernel)
	return c.OK, err
}

// ForKernel returns, in id order, the helpers that exist in kernel version v in any program type.
func (r *Registry) ForKernel(v Version) []*Helper {
	return r.filter(func(h *Helper) bool { return !v.Less(h.MinKernel) })
}

// NewRegistry builds the table of helpers read from data, the contents of file, for readers of
// other formats (package foreign), which check the entries and their uniqueness themselves. It
// takes the slice and sorts it by id.
func NewRegistry(file string, data []byte, helpers []*Helper) *Registry {
	r := &Registry{
		table: newTable(file, data, helpers, func(a, b *Helper) int { return a.ID - b.ID }),
		byID:  make(map[int]*Helper, len(helpers)),
	}
	for _, h := range helpers {
		r.byID[h.ID] = h
	}
	return r
}
