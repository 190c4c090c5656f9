package kernelsrc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// skippedDirs are top-level directories whose code is not part of a kernel image: the
// selftests' modules (tools/testing/selftests/bpf/bpf_testmod) register kfunc sets too.
var skippedDirs = []string{".git", "Documentation", "samples", "tools", "debian"}

// markers are the words that make a file worth tokenizing; most files of the tree have none.
var markers = [][]byte{[]byte("BTF_KFUNCS_START"), []byte("btf_kfunc_id_set"), []byte("bpf_prog_type_to_kfunc_hook")}

// Parse reads the kfunc registrations of the Linux source tree at root: every .c and .h file
// outside skippedDirs, and the kernel version from the top Makefile. Package and
// DebianVersion are left for the caller, who knows where the tree came from.
func Parse(root string) (*Source, error) {
	src := &Source{}
	var err error
	if src.Kernel, err = makefileVersion(filepath.Join(root, "Makefile")); err != nil {
		return nil, err
	}
	hookFiles := []string{}
	headers := &headerIndex{root: root}
	err = walkSources(root, func(rel string, data []byte) error {
		if !slices.ContainsFunc(markers, func(m []byte) bool { return bytes.Contains(data, m) }) {
			return nil
		}
		toks, err := tokenize(string(data))
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		f, err := scanFile(rel, toks, headers.lookup)
		if err != nil {
			return err
		}
		src.Sets = append(src.Sets, f.sets...)
		for _, d := range f.idSets {
			// An id set of a plain BTF_SET8 set serves fmod_ret; register_btf_kfunc_id_set
			// refuses it, so a registration naming it fails to resolve below.
			if !slices.Contains(f.plainSets, d.Set) {
				src.IDSets = append(src.IDSets, d)
			}
		}
		src.Registrations = append(src.Registrations, f.regs...)
		if len(f.hooks) > 0 {
			hookFiles = append(hookFiles, rel)
			src.Hooks, src.DefaultHook = f.hooks, f.deflt
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kernel source %s: %w", root, err)
	}
	if len(hookFiles) != 1 {
		return nil, fmt.Errorf("kernel source %s: bpf_prog_type_to_kfunc_hook defined in %d files (%s), want 1", root, len(hookFiles), strings.Join(hookFiles, ", "))
	}
	if _, err := src.resolve(); err != nil {
		return nil, fmt.Errorf("kernel source %s: %w", root, err)
	}
	return src, nil
}

var makefileVar = regexp.MustCompile(`(?m)^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)[ \t]*=[ \t]*(\S*)[ \t]*$`)

// makefileVersion reads VERSION.PATCHLEVEL.SUBLEVEL(EXTRAVERSION) from the top Makefile.
func makefileVersion(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("kernel version: %w", err)
	}
	v := map[string]string{}
	for _, m := range makefileVar.FindAllStringSubmatch(string(data), -1) {
		if _, seen := v[m[1]]; !seen {
			v[m[1]] = m[2]
		}
	}
	if v["VERSION"] == "" || v["PATCHLEVEL"] == "" {
		return "", fmt.Errorf("kernel version: %s has no VERSION and PATCHLEVEL", path)
	}
	out := v["VERSION"] + "." + v["PATCHLEVEL"]
	if v["SUBLEVEL"] != "" {
		out += "." + v["SUBLEVEL"]
	}
	return out + v["EXTRAVERSION"], nil
}

// links are the resolved references of a Source: for each IDSet the index of its Set, for
// each Registration the index of its IDSet.
type links struct {
	setOf   []int
	idSetOf []int
	hook    map[string]string // program type -> hook
}

// resolve checks that every reference names something: an id set's .set, a registration's
// id set (the same file's, as C's static names are, else the one of that name elsewhere), and a
// registration's program type (listed in the hook switch).
func (s *Source) resolve() (*links, error) {
	l := &links{hook: map[string]string{}}
	for _, h := range s.Hooks {
		if _, dup := l.hook[h.ProgType]; dup {
			return nil, fmt.Errorf("hook switch lists %s twice", h.ProgType)
		}
		l.hook[h.ProgType] = h.Hook
	}
	if _, ok := l.hook[CommonType]; !ok {
		return nil, fmt.Errorf("hook switch has no %s (the hook every program type reads)", CommonType)
	}
	var errs []error
	for _, d := range s.IDSets {
		i, err := find(s.Sets, d.File, d.Set, func(x Set) (string, string) { return x.File, x.Name })
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: id set %s: .set: %w", d.File, d.Line, d.Name, err))
		}
		l.setOf = append(l.setOf, i)
	}
	for _, r := range s.Registrations {
		i, err := find(s.IDSets, r.File, r.IDSet, func(x IDSet) (string, string) { return x.File, x.Name })
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: registration for %s: %w", r.File, r.Line, r.ProgType, err))
		}
		if _, ok := l.hook[r.ProgType]; !ok {
			errs = append(errs, fmt.Errorf("%s:%d: registration for %s, which the hook switch does not list", r.File, r.Line, r.ProgType))
		}
		l.idSetOf = append(l.idSetOf, i)
	}
	return l, errors.Join(errs...)
}

// find returns the index of the item called name in file, or of the only one called name
// anywhere when file has none.
func find[T any](items []T, file, name string, key func(T) (string, string)) (int, error) {
	local := -1
	var other []int
	for i, it := range items {
		f, nm := key(it)
		switch {
		case nm != name:
		case f != file:
			other = append(other, i)
		case local >= 0:
			return -1, fmt.Errorf("%s is defined twice in %s", name, file)
		default:
			local = i
		}
	}
	switch {
	case local >= 0:
		return local, nil
	case len(other) == 1:
		return other[0], nil
	case len(other) == 0:
		return -1, fmt.Errorf("%s is not defined", name)
	}
	return -1, fmt.Errorf("%s is defined in %d other files and not in %s", name, len(other), file)
}

// headerIndex finds the #define of a name among the tree's headers, for the macros a kfunc
// set is built from. It reads the headers on the first question only: most trees need none.
type headerIndex struct {
	root  string
	files map[string][]string // macro name -> headers that define it
}

var defineLine = regexp.MustCompile(`(?m)^[ \t]*#[ \t]*define[ \t]+([A-Za-z_][A-Za-z0-9_]*)`)

// lookup returns the one definition of name in the tree's headers, nil when no header
// defines it, and an error when several do differently (which one applies depends on
// includes and configs this package does not follow).
func (h *headerIndex) lookup(name string) (*macro, error) {
	if h.files == nil {
		h.files = map[string][]string{}
		err := walkSources(h.root, func(rel string, data []byte) error {
			if strings.HasSuffix(rel, ".h") {
				for _, m := range defineLine.FindAllSubmatch(data, -1) {
					n := string(m[1])
					if !slices.Contains(h.files[n], rel) {
						h.files[n] = append(h.files[n], rel)
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var found *macro
	for _, rel := range h.files[name] {
		data, err := os.ReadFile(filepath.Join(h.root, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		toks, err := tokenize(string(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		for _, t := range toks {
			if t.def == nil || t.def.name != name {
				continue
			}
			d := *t.def
			d.file, d.line = rel, t.line
			if found != nil && (found.function != d.function || !slices.Equal(found.params, d.params) || !slices.Equal(found.body, d.body)) {
				return nil, fmt.Errorf("macro %s is defined differently in %s:%d and %s:%d", name, found.file, found.line, d.file, d.line)
			}
			if found == nil {
				found = &d
			}
		}
	}
	return found, nil
}

// walkSources calls fn with every .c and .h file of the tree outside skippedDirs.
func walkSources(root string, fn func(rel string, data []byte) error) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if slices.Contains(skippedDirs, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !(strings.HasSuffix(rel, ".c") || strings.HasSuffix(rel, ".h")) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return fn(rel, data)
	})
}
