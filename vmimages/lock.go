package vmimages

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/strictyaml"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// BuiltinLockFile names the kernels.lock built into the binary, the lock of BuiltinKernelsFile
// (the same directory, as for a kernels file on disk). LoadLock reads it from the binary.
const BuiltinLockFile = "(built-in)/kernels.lock"

// ErrReadOnlyLock is returned (wrapped) by an attempt to write the built-in kernels.lock: its
// pins are part of the binary, and moving them takes a kernels file on disk.
var ErrReadOnlyLock = errors.New("the built-in kernels.lock is read-only")

// Lock is a loaded kernels.lock: for every kernel of kernels.yaml and each architecture it is
// fetched in, the exact build that runs use. It is written by `bpfmatrix kernels fetch` and
// meant to be committed, so that every machine tests the same kernels until someone runs
// `kernels fetch --update`.
type Lock struct {
	Path    string
	Entries []LockEntry
}

// LockEntry pins one kernel. The lock tag of a field is its key in kernels.lock, and the fields
// are in the order the keys are written.
type LockEntry struct {
	Name string `lock:"name"` // the kernels.yaml name
	// Arch is the architecture of the build; empty for amd64, so that a lock of amd64 pins
	// reads as it did before architectures were told apart. A pin is keyed by (Name, Arch).
	Arch    observation.Arch `lock:"arch"`
	Source  string           `lock:"source"`         // the entry's Source.Spec() when it was pinned
	Version string           `lock:"version"`        // upstream kernel version, e.g. 5.10.262
	Release string           `lock:"release"`        // uname -r of the kernel, e.g. 5.10.0-46-cloud-amd64
	SHA256  string           `lock:"vmlinuz_sha256"` // of vmlinuz: the cache key

	// Debian sources only.
	Package       string `lock:"package"`        // e.g. linux-image-5.10.0-46-cloud-amd64
	DebianVersion string `lock:"debian_version"` // e.g. 5.10.262-1
	Suite         string `lock:"suite"`          // where it was found, e.g. bullseye-security
	DebSHA256     string `lock:"deb_sha256"`     // of the .deb, from the signed index
	// DebPath is the .deb's path below the archive's root (pool/main/...), from the index: a
	// fetch downloads a pinned package from there and checks its deb_sha256, without reading
	// the index first. Empty (a pin made before paths were kept) means through the index.
	DebPath         string `lock:"deb_path"`
	ConfigPackage   string `lock:"config_package"` // the package holding the config when the image package does not (6.19+)
	ConfigDebSHA256 string `lock:"config_deb_sha256"`
	ConfigDebPath   string `lock:"config_deb_path"`
	// ModulesPackage holds the modules when the image package does not (6.19+): the kfunc
	// modules a guest loads come from it.
	ModulesPackage   string `lock:"modules_package"`
	ModulesDebSHA256 string `lock:"modules_deb_sha256"`
	ModulesDebPath   string `lock:"modules_deb_path"`
	// KfuncModules names the modules of the pinned packages that register kfuncs, space-separated
	// and sorted ("none" when there are none), as a fetch that inspected every module found: a
	// later extraction of the same packages inspects only these and their dependencies. Empty
	// means not known yet (the next extraction inspects every module and records it).
	KfuncModules string `lock:"kfunc_modules"`

	Line int // in the lock file, for messages
}

// lockFields are the keys of a lock entry in the order they are written, read off LockEntry's
// tags so that a key is named in one place.
var lockFields = func() []string {
	var keys []string
	t := reflect.TypeFor[LockEntry]()
	for i := range t.NumField() {
		if k := t.Field(i).Tag.Get("lock"); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}()

// field returns the (string-kinded) field whose lock tag is key; it panics for a key no field
// has, which lockFields and strictyaml.Fields rule out.
func (e *LockEntry) field(key string) reflect.Value {
	v := reflect.ValueOf(e).Elem()
	for i := range v.NumField() {
		if v.Type().Field(i).Tag.Get("lock") == key {
			return v.Field(i)
		}
	}
	panic("kernels.lock has no key " + key)
}

// get returns the value of the field whose lock tag is key.
func (e *LockEntry) get(key string) string { return e.field(key).String() }

var releasePattern = regexp.MustCompile(`^[0-9][A-Za-z0-9.+_~-]*$`)

// LoadLock reads kernels.lock. A missing file is an empty lock (nothing pinned yet); a file
// that does not parse, has unknown keys, duplicate names or malformed values is an error naming
// the line, because a damaged lock would silently change which kernels are tested. The path
// BuiltinLockFile reads the lock built into the binary.
func LoadLock(path string) (*Lock, error) {
	if path == BuiltinLockFile {
		return ParseLock([]byte(bpfmatrix.KernelsLock), path)
	}
	data, err := files.ReadRegular(path, files.Lock)
	if errors.Is(err, os.ErrNotExist) {
		return &Lock{Path: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	return ParseLock(data, path)
}

// ParseLock checks kernels.lock content; path is used in messages.
func ParseLock(data []byte, path string) (*Lock, error) {
	l := &Lock{Path: path}
	items, err := strictyaml.Records(data, path, "kernels")
	if err != nil {
		return nil, err
	}
	seen := map[string]int{} // by name and arch
	for _, item := range items {
		fields, err := strictyaml.Fields(deref(item), path, lockFields...)
		if err != nil {
			return nil, err
		}
		e := LockEntry{Line: item.Line}
		for k, n := range fields {
			v, err := scalar(n, path, k)
			if err != nil {
				return nil, err
			}
			e.field(k).SetString(v)
		}
		if err := e.validate(path, fields); err != nil {
			return nil, err
		}
		key := e.Name + "\x00" + string(e.Arch)
		if first, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s:%d: kernel %q%s is pinned twice (first at line %d)", path, item.Line, e.Name, archSuffix(e.Arch), first)
		}
		seen[key] = item.Line
		l.Entries = append(l.Entries, e)
	}
	return l, nil
}

func (e *LockEntry) validate(path string, fields map[string]*yaml.Node) error {
	line := func(k string) int {
		if n, ok := fields[k]; ok {
			return n.Line
		}
		return e.Line
	}
	need := []string{"name", "source", "release", "vmlinuz_sha256"}
	if strings.HasPrefix(e.Source, "debian ") {
		need = append(need, "version", "package", "debian_version", "suite", "deb_sha256")
	}
	for _, k := range need {
		if e.get(k) == "" {
			return fmt.Errorf("%s:%d: kernel %q: missing %s", path, e.Line, e.Name, k)
		}
	}
	for _, k := range []string{"vmlinuz_sha256", "deb_sha256", "config_deb_sha256", "modules_deb_sha256"} {
		if v := e.get(k); v != "" && !files.IsSHA256(v) {
			return fmt.Errorf("%s:%d: kernel %q: %s %q is not a sha256 (64 lower-case hex digits)", path, line(k), e.Name, k, v)
		}
	}
	if (e.ConfigPackage == "") != (e.ConfigDebSHA256 == "") {
		return fmt.Errorf("%s:%d: kernel %q: config_package and config_deb_sha256 go together", path, e.Line, e.Name)
	}
	if (e.ModulesPackage == "") != (e.ModulesDebSHA256 == "") {
		return fmt.Errorf("%s:%d: kernel %q: modules_package and modules_deb_sha256 go together", path, e.Line, e.Name)
	}
	if err := e.validatePoolPaths(path, line); err != nil {
		return err
	}
	if err := e.validateKfuncModules(path, line("kfunc_modules")); err != nil {
		return err
	}
	if err := e.validateArch(path, line("arch")); err != nil {
		return err
	}
	if !releasePattern.MatchString(e.Release) {
		return fmt.Errorf("%s:%d: kernel %q: release %q is not a kernel release", path, line("release"), e.Name, e.Release)
	}
	if e.DebianVersion != "" {
		if _, err := ParseDebianVersion(e.DebianVersion); err != nil {
			return fmt.Errorf("%s:%d: kernel %q: %w", path, line("debian_version"), e.Name, err)
		}
	}
	return nil
}

// noKfuncModules is kfunc_modules' word for packages without modules that register kfuncs.
const noKfuncModules = "none"

var moduleNamePattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// pinnedKfuncModules returns the kfunc modules the pin names: nil when it names none yet, an
// empty list for "none".
func (e *LockEntry) pinnedKfuncModules() []string {
	switch e.KfuncModules {
	case "":
		return nil
	case noKfuncModules:
		return []string{}
	}
	return strings.Fields(e.KfuncModules)
}

// setKfuncModules records names, the kfunc modules an extraction of the pin's packages found.
func (e *LockEntry) setKfuncModules(names []string) {
	e.KfuncModules = noKfuncModules
	if len(names) > 0 {
		e.KfuncModules = strings.Join(slices.Sorted(slices.Values(names)), " ")
	}
}

// validateKfuncModules checks kfunc_modules: "none", or module names separated by single spaces.
func (e *LockEntry) validateKfuncModules(path string, line int) error {
	if e.KfuncModules == "" || e.KfuncModules == noKfuncModules {
		return nil
	}
	names := strings.Split(e.KfuncModules, " ")
	for _, n := range names {
		if !moduleNamePattern.MatchString(n) {
			return fmt.Errorf("%s:%d: kernel %q: kfunc_modules %q: %q is not a module name (names separated by single spaces, or \"none\")", path, line, e.Name, e.KfuncModules, n)
		}
	}
	return nil
}

// poolPathPattern is a .deb's path below a Debian archive's root, as the index names it.
var poolPathPattern = regexp.MustCompile(`^pool/[A-Za-z0-9][A-Za-z0-9.+~_/-]*\.deb$`)

// validatePoolPaths checks the deb_path keys: an archive path of a .deb (never leaving the
// archive's root), each beside the package it locates.
func (e *LockEntry) validatePoolPaths(path string, line func(string) int) error {
	for _, p := range []struct{ key, pkg string }{
		{"deb_path", "package"}, {"config_deb_path", "config_package"}, {"modules_deb_path", "modules_package"},
	} {
		v := e.get(p.key)
		if v == "" {
			continue
		}
		if !poolPathPattern.MatchString(v) || strings.Contains(v, "..") {
			return fmt.Errorf("%s:%d: kernel %q: %s %q is not a .deb path of the archive's pool (pool/main/...)", path, line(p.key), e.Name, p.key, v)
		}
		if e.get(p.pkg) == "" {
			return fmt.Errorf("%s:%d: kernel %q: %s without %s", path, line(p.key), e.Name, p.key, p.pkg)
		}
	}
	return nil
}

// validateArch checks the arch key: a known word other than amd64, which a pin says by leaving
// the key out (so that an amd64 lock written again stays byte for byte the same).
func (e *LockEntry) validateArch(path string, line int) error {
	if e.Arch == "" {
		return nil
	}
	a, err := observation.ParseArch(string(e.Arch))
	if err != nil {
		return fmt.Errorf("%s:%d: kernel %q: %w", path, line, e.Name, err)
	}
	if a == observation.DefaultArch {
		return fmt.Errorf("%s:%d: kernel %q: arch %q is what a pin without the key means: leave it out", path, line, e.Name, a)
	}
	return nil
}

// archSuffix names a non-default architecture in messages about a pin (" (arm64)").
func archSuffix(a observation.Arch) string {
	if archOrDefault(a) == observation.DefaultArch {
		return ""
	}
	return " (" + string(a) + ")"
}

// lockArch is how a pin of architecture a records it: empty for amd64.
func lockArch(a observation.Arch) observation.Arch {
	if archOrDefault(a) == observation.DefaultArch {
		return ""
	}
	return a
}

// Find returns the pin of the named kernel's amd64 build, or nil.
func (l *Lock) Find(name string) *LockEntry { return l.FindArch(name, observation.DefaultArch) }

// FindArch returns the pin of the named kernel's build for architecture a (empty: amd64), or nil.
func (l *Lock) FindArch(name string, a observation.Arch) *LockEntry {
	if i := l.index(name, a); i >= 0 {
		return &l.Entries[i]
	}
	return nil
}

// lockKey is what a pin is keyed by: the kernel's name and its build's architecture (as the
// lock records it: empty for amd64).
type lockKey struct {
	name string
	arch observation.Arch
}

// lockOrder is the order pins are kept in: the amd64 pins in kernels file order, then those of
// each other architecture, in the same order.
func lockOrder(names []string) []lockKey {
	var order []lockKey
	for _, a := range []observation.Arch{observation.ArchAMD64, observation.ArchARM64} {
		for _, n := range names {
			order = append(order, lockKey{n, lockArch(a)})
		}
	}
	return order
}

// put adds the pin p or replaces the pin of the same name and architecture in place. A new pin
// goes after the nearest pin before it in order (see lockOrder) that is there already, or else
// before the nearest one after it, so that pins keep that order without moving pins that are
// already there.
func (l *Lock) put(p LockEntry, order []lockKey) {
	p.Arch = lockArch(p.Arch)
	if old := l.FindArch(p.Name, p.Arch); old != nil {
		p.Line = old.Line
		*old = p
		return
	}
	pos := len(l.Entries)
	if i := slices.Index(order, lockKey{p.Name, p.Arch}); i >= 0 {
		found := false
		for j := i - 1; j >= 0 && !found; j-- {
			if k := l.index(order[j].name, order[j].arch); k >= 0 {
				pos, found = k+1, true
			}
		}
		for j := i + 1; j < len(order) && !found; j++ {
			if k := l.index(order[j].name, order[j].arch); k >= 0 {
				pos, found = k, true
			}
		}
	}
	l.Entries = slices.Insert(l.Entries, pos, p)
}

func (l *Lock) index(name string, a observation.Arch) int {
	a = lockArch(a)
	return slices.IndexFunc(l.Entries, func(e LockEntry) bool { return e.Name == name && e.Arch == a })
}

// Marshal renders the lock in its fixed key order, one "key: value" per line with every value
// quoted, so that a changed pin shows as a one-line diff.
func (l *Lock) Marshal() []byte {
	var b strings.Builder
	b.WriteString("# kernels.lock: the exact kernel builds behind kernels.yaml, written by `bpfmatrix kernels fetch`.\n")
	b.WriteString("# Commit it: every run uses these builds (offline once cached) until\n")
	b.WriteString("# `bpfmatrix kernels fetch --update [NAME...]` moves them. Do not edit by hand.\n")
	b.WriteString("kernels:\n")
	for i := range l.Entries {
		e := &l.Entries[i]
		prefix := "  - "
		for _, k := range lockFields {
			v := e.get(k)
			if v == "" {
				continue
			}
			fmt.Fprintf(&b, "%s%s: %s\n", prefix, k, strconv.Quote(v))
			prefix = "    "
		}
	}
	return []byte(b.String())
}

// Builtin reports whether l is the lock built into the binary, which Write refuses.
func (l *Lock) Builtin() bool { return l.Path == BuiltinLockFile }

// Write stores the lock atomically. The built-in lock is never written: the error wraps
// ErrReadOnlyLock.
func (l *Lock) Write() error {
	if l.Builtin() {
		return fmt.Errorf("%w: its pins change only with a new bpfmatrix build", ErrReadOnlyLock)
	}
	return files.WriteAtomic(l.Path, l.Marshal(), 0o644)
}
