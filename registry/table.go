package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
)

// tableEntry is what the code both kinds of entry share needs of one: the name a table looks it up
// by, its category, and the parts the parse skeleton fills in.
type tableEntry interface {
	*Helper | *Kfunc
	key() string
	category() string
	parts() (*Availability, *Remarks)
}

func (h *Helper) key() string                      { return h.Name }
func (h *Helper) category() string                 { return h.Category }
func (h *Helper) parts() (*Availability, *Remarks) { return &h.Availability, &h.Remarks }
func (k *Kfunc) key() string                       { return k.Name }
func (k *Kfunc) category() string                  { return k.Category }
func (k *Kfunc) parts() (*Availability, *Remarks)  { return &k.Availability, &k.Remarks }

// table is what a helper table and a kfunc table both hold: where they came from, and their
// entries in table order and by name. Registry and Kfuncs embed it.
type table[E tableEntry] struct {
	source
	entries []E
	byName  map[string]E
}

// newTable builds a table of entries (taking the slice), sorted by cmp.
func newTable[E tableEntry](file string, data []byte, entries []E, cmp func(a, b E) int) table[E] {
	slices.SortFunc(entries, cmp)
	t := table[E]{source: newSource(file, data), entries: entries, byName: make(map[string]E, len(entries))}
	for _, e := range entries {
		t.byName[e.key()] = e
	}
	return t
}

// Len returns the number of entries.
func (t *table[E]) Len() int { return len(t.entries) }

// Categories returns the categories that hold at least one entry, sorted by name.
func (t *table[E]) Categories() []string {
	seen := map[string]bool{}
	for _, e := range t.entries {
		seen[e.category()] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// filter returns, in table order, the entries keep accepts.
func (t *table[E]) filter(keep func(E) bool) []E {
	var out []E
	for _, e := range t.entries {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// available returns, in table order, the entries declared for where (a program type or a
// section name, see Availability.Locate) on kernel (any kernel when nil). offeredTo answers for a
// program type: for a bare one always, for a section name where the entry has no facts of its
// attach point. A program type the kernel does not define and a malformed section are errors.
func (t *table[E]) available(where string, kernel *Version, offeredTo func(e E, progType string, kernel Version) bool) ([]E, error) {
	var v Version
	if kernel != nil {
		v = *kernel
	}
	if _, err := parseWhere(where); err != nil {
		return nil, err
	}
	return t.filter(func(e E) bool {
		a, _ := e.parts()
		p, _ := a.Locate(where)
		if p.Key == "" {
			return offeredTo(e, p.ProgType(), v)
		}
		r, _ := a.ruleAt(p, v)
		return r == offered
	}), nil
}

// knownProgType refuses, with ErrUnknownProgType, a program type name the kernel does not define.
func knownProgType(progType string) error {
	if _, ok := ProgTypeID(progType); !ok {
		return fmt.Errorf("%w: %q", ErrUnknownProgType, progType)
	}
	return nil
}

// source is where a table came from: its file and the sha256 of the file's bytes.
type source struct {
	file string
	sum  string
}

func newSource(file string, data []byte) source {
	s := sha256.Sum256(data)
	return source{file: file, sum: hex.EncodeToString(s[:])}
}

// File returns the name of the file the table was loaded from.
func (s source) File() string { return s.file }

// SHA256 returns the hex sha256 of the table file's bytes, so reports can say which table their
// verdicts were computed against.
func (s source) SHA256() string { return s.sum }
