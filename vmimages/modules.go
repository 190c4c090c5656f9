package vmimages

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/bpfmatrix/bpfmatrix/internal/decompress"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
)

// kfuncRegistration is the kernel function through which a module hands the kernel its kfuncs
// (kfunc id sets, from 5.18): a module that does not call it defines no kfunc a BPF program can
// call, and one that does has kfuncs in its BTF once it is loaded. Reading the module's symbol
// table for it is cheaper than decoding the module's split BTF against vmlinux's, and it also
// holds for kernels whose BTF predates the bpf_kfunc tag (Debian's 6.1).
const kfuncRegistration = "register_btf_kfunc_id_set"

// Bounds on what one package may make the extraction hold: Debian's cloud packages ship about
// 1,150 modules in 21 to 38 MB (packed).
const (
	maxModuleFiles = 16384
	maxModuleBytes = 1 << 30 // packed bytes of every module held at once
)

// moduleFile is one module of a package, as the walk met it.
type moduleFile struct {
	name      string   // the kernel's name for it (nf_conntrack)
	path      string   // its path in the archive, for messages and its compression
	rel       string   // where it goes in the staging directory ("modules/kernel/.../x.ko")
	packed    []byte   // the file as packaged (compressed or not)
	inspected bool     // deps and kfuncs are read
	deps      []string // from .modinfo "depends="
	kfuncs    bool     // it registers kfuncs (kfuncRegistration)
}

// moduleSet is every module file of a package: the walk reads each once (a dependency may come
// before the module naming it), and the modules to extract are chosen after the walk.
type moduleSet struct {
	byName map[string]*moduleFile
	bytes  int64
	// pinned, when not nil, names the modules that register kfuncs, as a full inspection of the
	// same package found (kernels.lock's kfunc_modules): then only they and their dependencies
	// are inspected, after the walk. Decompressing every module of a package to find them took
	// about 5 s of CPU per kernel, most of a fetch's.
	pinned []string
	// Without pinned, modules are inspected (decompressed, their ELF read) on other goroutines
	// while the walk decompresses the archive on: the two decoders take about the same time.
	sem  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

// add reads one module file of the archive and, unless the kfunc modules are pinned, starts
// reading its dependencies and whether it has kfuncs; wait waits for that.
func (s *moduleSet) add(archivePath, rest string, r io.Reader) error {
	if s.byName == nil {
		s.byName = map[string]*moduleFile{}
		s.sem = make(chan struct{}, runtime.NumCPU())
	}
	if len(s.byName) >= maxModuleFiles {
		return fmt.Errorf("more than %d module files in the package", maxModuleFiles)
	}
	packed, err := files.Module.ReadAll(archivePath, r)
	if err != nil {
		return fmt.Errorf("read %s: %w", archivePath, err)
	}
	if s.bytes += int64(len(packed)); s.bytes > maxModuleBytes {
		return fmt.Errorf("the package's modules hold more than %d MiB", maxModuleBytes>>20)
	}
	m := &moduleFile{name: moduleName(rest), path: archivePath, rel: "modules/" + stripCompression(rest), packed: packed}
	s.byName[m.name] = m
	if s.pinned != nil {
		return nil // inspected when closure reaches it
	}
	s.sem <- struct{}{}
	s.wg.Add(1)
	go func() {
		defer func() { <-s.sem; s.wg.Done() }()
		if err := m.inspect(); err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, err)
			s.mu.Unlock()
		}
	}()
	return nil
}

// wait waits for every module's inspection and returns the first error.
func (s *moduleSet) wait() error {
	s.wg.Wait()
	if len(s.errs) > 0 {
		return s.errs[0]
	}
	return nil
}

// inspect sets m's dependencies and whether it registers kfuncs, once: a module already
// inspected (by the walk, or reached again by another closure) is left as it is.
func (m *moduleFile) inspect() error {
	if m.inspected {
		return nil
	}
	data, err := unpackModule(m.path, m.packed)
	if err != nil {
		return err
	}
	if m.deps, m.kfuncs, err = inspectModule(data); err != nil {
		return fmt.Errorf("module %s: %w", m.path, err)
	}
	m.inspected = true
	return nil
}

// unpackModule returns a module file's contents, decompressed according to its name.
func unpackModule(name string, packed []byte) ([]byte, error) {
	f := decompress.ForName(name)
	if f == "" {
		return packed, nil
	}
	zr, err := decompress.NewReader(f, bytes.NewReader(packed))
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", name, err)
	}
	defer zr.Close()
	data, err := files.Module.ReadAll(name, zr)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", name, err)
	}
	return data, nil
}

// inspectModule reads a module's "depends=" (.modinfo) and whether it registers kfuncs: it has
// BTF and calls kfuncRegistration (an undefined symbol of its symbol table).
func inspectModule(data []byte) (deps []string, kfuncs bool, err error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	if deps, err = modinfoDepends(f); err != nil {
		return nil, false, err
	}
	if f.Section(".BTF") == nil {
		return deps, false, nil
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, false, fmt.Errorf("symbol table: %w", err)
	}
	for _, s := range syms {
		if s.Name == kfuncRegistration && s.Section == elf.SHN_UNDEF {
			return deps, true, nil
		}
	}
	return deps, false, nil
}

// modinfoDepends reads the "depends=" entry of a module's .modinfo section.
func modinfoDepends(f *elf.File) ([]string, error) {
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("no .modinfo section")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d = strings.TrimSpace(d); d != "" {
					deps = append(deps, strings.ReplaceAll(d, "-", "_"))
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}

// closure returns roots and every module they depend on, recursively, that the set holds,
// inspecting those the walk left uninspected (pinned kfunc modules).
func (s *moduleSet) closure(roots []string) (map[string]*moduleFile, error) {
	out := map[string]*moduleFile{}
	var visit func(string) error
	visit = func(n string) error {
		m := s.byName[n]
		if m == nil || out[n] != nil {
			return nil
		}
		if err := m.inspect(); err != nil {
			return err
		}
		out[n] = m
		for _, d := range m.deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range roots {
		if err := visit(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// kfuncRoots returns the names of the modules that register kfuncs, sorted: those inspection
// found, or the pinned ones the package holds, each checked to register kfuncs (a pin that names
// a module that does not is an error: it was not made from this package).
func (s *moduleSet) kfuncRoots() ([]string, error) {
	var out []string
	if s.pinned != nil && len(s.byName) == 0 {
		return nil, nil // a package without modules (an image or config package of 6.19+)
	}
	if s.pinned == nil {
		for n, m := range s.byName {
			if m.kfuncs {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return out, nil
	}
	for _, n := range s.pinned {
		m := s.byName[n]
		if m == nil {
			return nil, fmt.Errorf("kernels.lock's kfunc_modules names %s, which the package does not hold", n)
		}
		if err := m.inspect(); err != nil {
			return nil, err
		}
		if !m.kfuncs {
			return nil, fmt.Errorf("kernels.lock's kfunc_modules names %s, which registers no kfuncs", n)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// missingDep returns a dependency of one of mods that is neither among mods nor built in, with
// the module needing it; "" when there is none.
func missingDep(mods map[string]*moduleFile, builtin map[string]bool) (module, dep string) {
	for _, n := range slices.Sorted(maps.Keys(mods)) {
		for _, d := range mods[n].deps {
			if mods[d] == nil && !builtin[d] {
				return n, d
			}
		}
	}
	return "", ""
}

// loadOrder sorts mods so that each comes after the modules it depends on (a guest loads them
// in this order with finit_module), as staging-relative paths. Modules in loaded (the virtio
// set, loaded before) are left out.
func loadOrder(mods map[string]*moduleFile, loaded map[string]*moduleFile) ([]string, error) {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("module dependency cycle at %s", n)
		case 2:
			return nil
		}
		state[n] = 1
		for _, d := range mods[n].deps {
			if mods[d] != nil {
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		state[n] = 2
		if loaded[n] == nil {
			order = append(order, mods[n].rel)
		}
		return nil
	}
	for _, n := range slices.Sorted(maps.Keys(mods)) {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// write extracts mods into staging, decompressed, so that the guest loads them with
// finit_module without a decompressor.
func writeModules(staging string, mods map[string]*moduleFile) error {
	for _, n := range slices.Sorted(maps.Keys(mods)) {
		m := mods[n]
		data, err := unpackModule(m.path, m.packed)
		if err != nil {
			return err
		}
		if err := writeStream(filepath.Join(staging, filepath.FromSlash(m.rel)), bytes.NewReader(data)); err != nil {
			return fmt.Errorf("extract %s: %w", m.path, err)
		}
	}
	return nil
}
