package vmimages

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/debpkg"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
)

// virtioModules are the modules a guest needs for a virtio-serial channel (virtio-pci transport
// and the console driver) on kernels that build them as modules (Debian's 5.10). Dependencies
// outside this list are found from each module's own "depends=" and extracted as well.
var virtioModules = []string{"virtio", "virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "virtio_console"}

// debContents is what extractDeb found in a kernel package.
type debContents struct {
	Release string   // from boot/vmlinuz-<release> or usr/lib/modules/<release>/vmlinuz
	Vmlinuz bool     // staging/vmlinuz was written
	Config  bool     // staging/config was written
	Modules []string // virtio modules, staging-relative ("modules/kernel/drivers/virtio/virtio.ko"), load order
	// KfuncModules are the modules that register kfuncs and their dependencies (those not in
	// Modules), staging-relative, in load order.
	KfuncModules []string
	// Builtin are the modules the package's modules.builtin names: a later package of the same
	// kernel (the modules of 6.19 and later) needs them to tell a dependency built in.
	Builtin map[string]bool
	// KfuncRoots are the package's modules that register kfuncs (sorted): what kernels.lock
	// pins as kfunc_modules, so that the next extraction of the package inspects only them.
	KfuncRoots []string
	// Notes say which kfunc modules were left out and why.
	Notes []string
}

// extractOptions is what extractDeb knows of a package before reading it.
type extractOptions struct {
	// builtin names the modules a package of the same kernel extracted before says are built in.
	builtin map[string]bool
	// kfuncModules, when not nil, are the modules of the package that register kfuncs, as
	// kernels.lock pins them (empty: none): only they and their dependencies are inspected.
	kfuncModules []string
}

// extraction is the state of extractDeb over one package.
type extraction struct {
	c       *debContents
	staging string
	mods    moduleSet
	builtin map[string]bool // from modules.builtin, and from the packages extracted before
	order   map[string]bool // from modules.order: every module the build made
	// builtinRead and orderRead say modules.builtin and modules.order have been read.
	builtinRead, orderRead bool
	// tail brings modules.builtin and modules.order read from the archive's end, when they
	// could be read on their own (debpkg.Archive.TailFiles), while the walk reads its start.
	tail chan map[string][]byte
}

// extractDeb extracts vmlinuz, the kernel config and the modules a guest loads of a kernel
// package into staging: the virtio modules (on kernels that build them as modules) and every
// module that registers kfuncs, each with the modules it depends on. Both Debian layouts are
// understood: boot/vmlinuz-<release> with boot/config-<release> and lib/modules/<release>/
// kernel/... (up to 6.18), and usr/lib/modules/<release>/vmlinuz (from 6.19, whose config is in
// linux-base-<release>, at usr/lib/modules/<release>/config, and modules in
// linux-modules-<release>); opt says what is known of the package beforehand. Compressed
// modules (.ko.xz, .ko.zst, .ko.gz) are stored decompressed so that the guest can load them with
// finit_module without a decompressor.
//
// Every module file is read once, in the walk (a dependency may come before the module naming
// it), and the walk stops once vmlinuz, the config and every module modules.order lists have
// been read.
func extractDeb(ctx context.Context, deb, staging string, opt extractOptions) (*debContents, error) {
	x := &extraction{
		c: &debContents{}, staging: staging, builtin: maps.Clone(opt.builtin), order: map[string]bool{},
		mods: moduleSet{pinned: opt.kfuncModules},
	}
	if x.builtin == nil {
		x.builtin = map[string]bool{}
	}
	err := debpkg.Walk(ctx, deb, x.readTail, func(hdr *tar.Header, r io.Reader) error {
		if err := x.take(hdr.Name, hdr, r); err != nil {
			return err
		}
		if err := x.awaitTail(ctx); err != nil {
			return err
		}
		if x.complete() {
			return debpkg.ErrStopWalk
		}
		return nil
	})
	if werr := x.mods.wait(); err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	if !x.c.Vmlinuz && len(x.mods.byName) == 0 && !x.c.Config {
		return nil, fmt.Errorf("%s: no vmlinuz, config or modules in the package", filepath.Base(deb))
	}
	if err := x.selectModules(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(deb), err)
	}
	if x.builtinRead {
		x.c.Builtin = x.builtin
	}
	return x.c, nil
}

// selectModules chooses, writes and orders the modules to extract: the virtio modules with
// their dependencies (one missing is an error: the guest would have no result channel), then
// each kfunc module with its dependencies (one missing leaves that module out, with a note: the
// kernel just has no kfuncs of it).
func (x *extraction) selectModules() error {
	virtio, err := x.mods.closure(virtioModules)
	if err != nil {
		return err
	}
	if m, d := missingDep(virtio, x.builtin); m != "" {
		return fmt.Errorf("module %s depends on %s, which the package neither ships nor builds in", m, d)
	}
	if x.c.KfuncRoots, err = x.mods.kfuncRoots(); err != nil {
		return err
	}
	kfunc := map[string]*moduleFile{}
	for _, root := range x.c.KfuncRoots {
		if virtio[root] != nil {
			continue
		}
		cl, err := x.mods.closure([]string{root})
		if err != nil {
			return err
		}
		if m, d := missingDep(cl, x.builtin); m != "" {
			x.c.Notes = append(x.c.Notes, fmt.Sprintf("kfunc module %s left out: %s depends on %s, which the package neither ships nor builds in", root, m, d))
			continue
		}
		maps.Copy(kfunc, cl)
	}
	all := maps.Clone(virtio)
	maps.Copy(all, kfunc)
	if err := writeModules(x.staging, all); err != nil {
		return err
	}
	if x.c.Modules, err = loadOrder(virtio, nil); err != nil {
		return err
	}
	x.c.KfuncModules, err = loadOrder(kfunc, virtio)
	return err
}

// complete says nothing later in the archive can change what extractDeb returns: vmlinuz and
// the config are taken, and every module modules.order lists (every module file the build made)
// has been read or is built in. A sorted archive has the lists after the modules; readTail
// brings them early.
func (x *extraction) complete() bool {
	if !x.c.Vmlinuz || !x.c.Config || !x.orderRead || !x.builtinRead || len(x.mods.byName)+len(x.builtin) < len(x.order) {
		return false
	}
	for m := range x.order {
		if x.mods.byName[m] == nil && !x.builtin[m] {
			return false
		}
	}
	return true
}

// readTail starts reading modules.builtin and modules.order from the end of the archive. In a
// linux-image package they follow the modules, but only they tell that a wanted module is built
// in or not built at all; known early, they let the walk stop soon after vmlinuz and the config
// (from 6.12 the virtio modules are built in), or after the last wanted module.
func (x *extraction) readTail(a *debpkg.Archive) {
	x.tail = make(chan map[string][]byte, 1) // the sender never waits: the walk may be gone
	go func() {
		files, _ := a.TailFiles(func(name string) bool {
			_, rest, ok := splitModulesPath(cleanName(name))
			return ok && (rest == "modules.builtin" || rest == "modules.order")
		})
		x.tail <- files
	}()
}

// awaitTail takes what readTail read once vmlinuz and the config are taken: from then on only
// the module lists and the modules can end the walk, and waiting for the lists costs less than
// decoding on. Without them the walk reads on to the lists in their place.
func (x *extraction) awaitTail(ctx context.Context) error {
	if x.tail == nil || !x.c.Vmlinuz || !x.c.Config {
		return nil
	}
	var files map[string][]byte
	select {
	case files = <-x.tail:
	case <-ctx.Done():
		return ctx.Err()
	}
	x.tail = nil
	for name, data := range files {
		_, rest, _ := splitModulesPath(cleanName(name))
		if rest == "modules.builtin" {
			x.builtinRead = true
			readModuleList(bytes.NewReader(data), x.builtin)
		} else {
			x.orderRead = true
			readModuleList(bytes.NewReader(data), x.order)
		}
	}
	return nil
}

// cleanName is a file's name in the archive without its leading "./" or "/".
func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// take handles one file of the package's data archive.
func (x *extraction) take(name string, hdr *tar.Header, r io.Reader) error {
	name = cleanName(name)
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	c, staging := x.c, x.staging
	modRoot, rest, inModules := splitModulesPath(name)
	switch {
	case strings.HasPrefix(name, "boot/vmlinuz-"):
		return c.takeVmlinuz(strings.TrimPrefix(name, "boot/vmlinuz-"), r, staging)
	case inModules && rest == "vmlinuz":
		return c.takeVmlinuz(modRoot, r, staging)
	case strings.HasPrefix(name, "boot/config-"):
		return c.takeConfig(strings.TrimPrefix(name, "boot/config-"), r, staging)
	case inModules && rest == "config":
		return c.takeConfig(modRoot, r, staging)
	case inModules && rest == "modules.builtin":
		x.builtinRead = true
		return readModuleList(r, x.builtin)
	case inModules && rest == "modules.order":
		x.orderRead = true
		return readModuleList(r, x.order)
	case inModules && strings.HasPrefix(rest, "kernel/") && isModuleFile(rest):
		if err := x.c.setRelease(modRoot); err != nil {
			return err
		}
		return x.mods.add(name, rest, r)
	}
	return nil
}

// readModuleList adds the module names of a list of module paths (modules.builtin,
// modules.order) to names.
func readModuleList(r io.Reader, names map[string]bool) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" {
			names[moduleName(l)] = true
		}
	}
	return nil
}

// splitModulesPath splits "[usr/]lib/modules/<release>/<rest>".
func splitModulesPath(name string) (release, rest string, ok bool) {
	name = strings.TrimPrefix(name, "usr/")
	if !strings.HasPrefix(name, "lib/modules/") {
		return "", "", false
	}
	release, rest, ok = strings.Cut(strings.TrimPrefix(name, "lib/modules/"), "/")
	return release, rest, ok && release != ""
}

func (c *debContents) setRelease(release string) error {
	if c.Release != "" && c.Release != release {
		return fmt.Errorf("package holds two kernel releases: %s and %s", c.Release, release)
	}
	c.Release = release
	return nil
}

func (c *debContents) takeVmlinuz(release string, r io.Reader, staging string) error {
	if c.Vmlinuz {
		return fmt.Errorf("package holds more than one vmlinuz (%s and another)", release)
	}
	return c.extractFile(release, r, staging, "vmlinuz", &c.Vmlinuz)
}

func (c *debContents) takeConfig(release string, r io.Reader, staging string) error {
	return c.extractFile(release, r, staging, "config", &c.Config)
}

// extractFile extracts r, a file of the kernel release, as staging/name and sets taken: the
// vmlinuz and the config of a package are taken alike.
func (c *debContents) extractFile(release string, r io.Reader, staging, name string, taken *bool) error {
	if err := c.setRelease(release); err != nil {
		return err
	}
	if err := writeStream(filepath.Join(staging, name), r); err != nil {
		return fmt.Errorf("extract %s: %w", name, err)
	}
	*taken = true
	return nil
}

func writeStream(dst string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func isModuleFile(name string) bool {
	return strings.HasSuffix(stripCompression(name), ".ko")
}

func stripCompression(name string) string {
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		if strings.HasSuffix(name, ".ko"+ext) {
			return strings.TrimSuffix(name, ext)
		}
	}
	return name
}

// moduleName is the kernel's name for a module file: its base name without extensions, with
// '-' read as '_' (modprobe treats them alike).
func moduleName(p string) string {
	base := path.Base(stripCompression(p))
	return strings.ReplaceAll(strings.TrimSuffix(base, ".ko"), "-", "_")
}

// bzImageRelease reads the kernel release from a bzImage's setup header (the "kernel_version"
// string the boot protocol points to), so that a local image gets the same uname string the
// guest will report. ok is false for files without that header (not an x86 bzImage).
func bzImageRelease(file string) (release string, ok bool, err error) {
	f, err := files.OpenRegular(file, files.Image)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	buf := make([]byte, 0x10000)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF {
		return "", false, fmt.Errorf("read %s: %w", file, err)
	}
	buf = buf[:n]
	if len(buf) < 0x210 || string(buf[0x202:0x206]) != "HdrS" {
		return "", false, nil
	}
	off := 0x200 + (int(buf[0x20e]) | int(buf[0x20f])<<8)
	if off <= 0x200 || off >= len(buf) {
		return "", false, nil
	}
	s := buf[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	fields := strings.Fields(string(s))
	if len(fields) == 0 {
		return "", false, nil
	}
	return fields[0], true, nil
}
