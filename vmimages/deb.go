package vmimages

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/debpkg"
	"github.com/bpfmatrix/bpfmatrix/internal/decompress"
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
	Modules []string // staging-relative paths ("modules/kernel/drivers/virtio/virtio.ko"), load order
}

// errStopWalk, returned by a walkDeb callback, ends the walk early without an error.
var errStopWalk = errors.New("stop walking the archive")

// extraction is the state of extractDeb over one package.
type extraction struct {
	c       *debContents
	staging string
	want    map[string]bool   // module names to extract: virtioModules and their dependencies
	found   map[string]string // module name -> staging-relative path
	seen    map[string]bool   // module names of every module file walked past so far
	builtin map[string]bool   // from modules.builtin
	order   map[string]bool   // from modules.order: every module the build made
	// builtinRead and orderRead say modules.builtin and modules.order have been read.
	builtinRead, orderRead bool
	// repass says a dependency was found to be wanted after its file had been walked past.
	repass bool
	// tail brings modules.builtin and modules.order read from the archive's end, when they
	// could be read on their own (debpkg.Archive.TailFiles), while the walk reads its start.
	tail chan map[string][]byte
}

// extractDeb extracts vmlinuz, the kernel config and the virtio modules of a kernel package into
// staging. Both Debian layouts are understood: boot/vmlinuz-<release> with boot/config-<release>
// and lib/modules/<release>/kernel/... (up to 6.18), and usr/lib/modules/<release>/vmlinuz (from
// 6.19, whose config is in linux-base-<release>, at usr/lib/modules/<release>/config).
// Compressed modules (.ko.xz, .ko.zst, .ko.gz) are stored decompressed so that the guest can load
// them with finit_module without a decompressor.
//
// Decompressing the archive is most of the cost (the Go xz decoder is slow), so it is read once
// where it can be: a module's dependencies are read from it as it is extracted, and the walk
// stops once vmlinuz, the config and every wanted module have been taken or shown to be built in
// or not built. A second walk happens only when a dependency's file was passed before a module
// named it.
func extractDeb(ctx context.Context, deb, staging string) (*debContents, error) {
	x := &extraction{
		c: &debContents{}, staging: staging, want: map[string]bool{}, found: map[string]string{},
		seen: map[string]bool{}, builtin: map[string]bool{}, order: map[string]bool{},
	}
	for _, m := range virtioModules {
		x.want[m] = true
	}
	for pass := 0; ; pass++ {
		x.repass = false
		opened := func(a *debpkg.Archive) {
			if pass == 0 {
				x.readTail(a)
			}
		}
		err := walkDeb(ctx, deb, opened, func(name string, hdr *tar.Header, r io.Reader) error {
			if err := x.take(name, hdr, r, pass == 0); err != nil {
				return err
			}
			if err := x.awaitTail(ctx); err != nil {
				return err
			}
			if x.complete() {
				return errStopWalk
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if pass == 0 && !x.c.Vmlinuz && len(x.found) == 0 && !x.c.Config {
			return nil, fmt.Errorf("%s: no vmlinuz, config or modules in the package", filepath.Base(deb))
		}
		if !x.repass || pass >= 3 {
			break
		}
	}
	order, err := moduleLoadOrder(staging, x.found, x.builtin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(deb), err)
	}
	x.c.Modules = order
	return x.c, nil
}

// complete says nothing later in the archive can change what extractDeb returns: vmlinuz and
// the config are taken, and each wanted module is extracted, built in, or absent from
// modules.order (which lists every module file the build made; a sorted archive has it after
// the modules, and modules.builtin before it).
func (x *extraction) complete() bool {
	if !x.c.Vmlinuz || !x.c.Config {
		return false
	}
	for m := range x.want {
		if x.found[m] == "" && !x.builtin[m] && (!x.orderRead || !x.builtinRead || x.order[m]) {
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

// take handles one file of the package's data archive; first says it is the first walk.
func (x *extraction) take(name string, hdr *tar.Header, r io.Reader, first bool) error {
	name = cleanName(name)
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	c, staging := x.c, x.staging
	modRoot, rest, inModules := splitModulesPath(name)
	switch {
	case first && strings.HasPrefix(name, "boot/vmlinuz-"):
		return c.takeVmlinuz(strings.TrimPrefix(name, "boot/vmlinuz-"), r, staging)
	case first && inModules && rest == "vmlinuz":
		return c.takeVmlinuz(modRoot, r, staging)
	case first && strings.HasPrefix(name, "boot/config-"):
		return c.takeConfig(strings.TrimPrefix(name, "boot/config-"), r, staging)
	case first && inModules && rest == "config":
		return c.takeConfig(modRoot, r, staging)
	case first && inModules && rest == "modules.builtin":
		x.builtinRead = true
		return readModuleList(r, x.builtin)
	case first && inModules && rest == "modules.order":
		x.orderRead = true
		return readModuleList(r, x.order)
	case inModules && strings.HasPrefix(rest, "kernel/") && isModuleFile(rest):
		return x.takeModule(name, modRoot, rest, r)
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

// takeModule extracts a wanted module file and adds its dependencies to what is wanted.
func (x *extraction) takeModule(name, release, rest string, r io.Reader) error {
	mod := moduleName(rest)
	defer func() { x.seen[mod] = true }()
	if !x.want[mod] || x.found[mod] != "" {
		return nil
	}
	if err := x.c.setRelease(release); err != nil {
		return err
	}
	rel := "modules/" + stripCompression(rest)
	file := filepath.Join(x.staging, filepath.FromSlash(rel))
	if err := writeDecompressed(file, rest, r); err != nil {
		return fmt.Errorf("extract %s: %w", name, err)
	}
	x.found[mod] = rel
	deps, err := moduleDepends(file)
	if err != nil {
		return fmt.Errorf("extract %s: %w", name, err)
	}
	for _, d := range deps {
		if _, ok := x.found[d]; !ok && !x.want[d] {
			x.want[d] = true
			x.repass = x.repass || x.seen[d]
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

// walkDeb streams the data archive of a .deb through fn, decompressing it in process
// (internal/debpkg), until the end or until fn returns errStopWalk; ctx is checked between
// files. opened, unless nil, is called with the archive before the walk begins.
func walkDeb(ctx context.Context, deb string, opened func(*debpkg.Archive), fn func(name string, hdr *tar.Header, r io.Reader) error) error {
	f, err := os.Open(deb)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	a, err := debpkg.Open(f, st.Size())
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Base(deb), err)
	}
	defer a.Close()
	if opened != nil {
		opened(a)
	}
	tr := a.Tar
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Base(deb), err)
		}
		if err := fn(hdr.Name, hdr, tr); err == errStopWalk {
			return nil
		} else if err != nil {
			return err
		}
	}
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

// writeDecompressed writes a module file, decompressing it according to its extension.
func writeDecompressed(dst, name string, r io.Reader) error {
	f := decompress.ForName(name)
	if f == "" {
		return writeStream(dst, r)
	}
	zr, err := decompress.NewReader(f, r)
	if err != nil {
		return err
	}
	defer zr.Close()
	return writeStream(dst, zr)
}

// moduleDepends reads the "depends=" entry of a module's .modinfo section.
func moduleDepends(file string) ([]string, error) {
	f, err := elf.Open(file)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", filepath.Base(file), err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s: no .modinfo section", filepath.Base(file))
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", filepath.Base(file), err)
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

// moduleLoadOrder sorts the extracted modules so that each comes after the modules it depends
// on (a guest loads them in this order with finit_module). A dependency that is neither extracted
// nor built in would make the load fail in the guest, so it is an error here.
func moduleLoadOrder(staging string, found map[string]string, builtin map[string]bool) ([]string, error) {
	deps := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(found)) {
		d, err := moduleDepends(filepath.Join(staging, found[name]))
		if err != nil {
			return nil, err
		}
		for _, dep := range d {
			if _, ok := found[dep]; !ok && !builtin[dep] {
				return nil, fmt.Errorf("module %s depends on %s, which the package neither ships nor builds in", name, dep)
			}
		}
		deps[name] = d
	}
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
		for _, d := range deps[n] {
			if _, ok := found[d]; ok {
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		state[n] = 2
		order = append(order, found[n])
		return nil
	}
	for _, n := range slices.Sorted(maps.Keys(found)) {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return order, nil
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
