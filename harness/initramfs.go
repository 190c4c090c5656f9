package harness

import (
	"bufio"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
)

// File is one regular file to place in an initramfs.
type File struct {
	// Name is the absolute path inside the guest, e.g. "/init".
	Name string
	// Source is the host file whose contents are copied.
	Source string
	// Mode holds the permission bits (0755 for executables).
	Mode os.FileMode
}

// Initramfs describes a newc cpio archive that the kernel unpacks into its root file system.
// Besides Files it always holds the directories /dev, /proc, /sys and /tmp and the character
// node /dev/console (5,1): without that node the kernel starts init with no stdin, stdout and
// stderr, and a guest looks silent until its timeout. An executable of Files that is
// dynamically linked brings the loader and libraries it needs (SharedObjects), except those
// Files places itself: the archive is the guest's whole file system, and without them the
// kernel cannot start it (init fails with ENOENT and the kernel panics).
type Initramfs struct {
	Files []File
	// Compress gzips the archive. The kernel unpacks an uncompressed archive as well, which
	// saves the guest decompressing megabytes without hardware acceleration (see DefaultConfig).
	Compress bool
}

// cpio mode bits for the entry types we write.
const (
	cpioDir  = 0o040000
	cpioReg  = 0o100000
	cpioChar = 0o020000
)

// WriteTo writes the archive to w.
func (fs *Initramfs) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	var out io.Writer = cw
	var zw *gzip.Writer
	if fs.Compress {
		// BestSpeed: the guest decompresses as fast either way, and the host builds one
		// archive per run, so spending host time on a smaller archive buys nothing.
		zw, _ = gzip.NewWriterLevel(cw, gzip.BestSpeed)
		out = zw
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	a := &cpioWriter{w: bw, ino: 1}

	all, err := withSharedObjects(fs.Files)
	if err != nil {
		return cw.n, err
	}
	dirs := map[string]bool{"/dev": true, "/proc": true, "/sys": true, "/tmp": true}
	for _, f := range all {
		if !path.IsAbs(f.Name) || path.Clean(f.Name) != f.Name {
			return cw.n, fmt.Errorf("initramfs: file name %q is not a clean absolute path", f.Name)
		}
		for d := path.Dir(f.Name); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	// Sorted order puts every parent before its children, which the kernel's unpacker needs.
	sort.Strings(names)
	for _, d := range names {
		if err := a.header(d, cpioDir|0o755, 0, 0, 0); err != nil {
			return cw.n, err
		}
	}
	if err := a.header("/dev/console", cpioChar|0o600, 0, 5, 1); err != nil {
		return cw.n, err
	}
	for _, f := range all {
		if err := a.file(f); err != nil {
			return cw.n, err
		}
	}
	if err := a.header("TRAILER!!!", 0, 0, 0, 0); err != nil {
		return cw.n, err
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("initramfs: %w", err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return cw.n, fmt.Errorf("initramfs: %w", err)
		}
	}
	return cw.n, nil
}

// withSharedObjects returns files followed by the shared objects its dynamically linked
// executables need that files does not hold already, each once. Files that are not executable
// or not ELF (scripts, test data) need nothing.
func withSharedObjects(files []File) ([]File, error) {
	have := map[string]bool{}
	for _, f := range files {
		have[f.Name] = true
	}
	out := slices.Clone(files) // the caller's slice stays as it was
	for _, f := range files {
		if f.Mode&0o111 == 0 || !isDynamicELF(f.Source) {
			continue
		}
		objs, err := SharedObjects(f.Source)
		if err != nil {
			return nil, fmt.Errorf("initramfs: %s: %w", f.Name, err)
		}
		for _, o := range objs {
			if !have[o.Name] {
				have[o.Name] = true
				out = append(out, o)
			}
		}
	}
	return out, nil
}

// isDynamicELF reports whether p is an ELF file with an interpreter. Anything else, including
// a file that cannot be read, is left to the copy to report.
func isDynamicELF(p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

// WriteFile writes the archive to a new file at name.
func (fs *Initramfs) WriteFile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if _, err := fs.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// cpioWriter writes "newc" (SVR4, no CRC) entries: a 110-byte ASCII header, the NUL-terminated
// name and the data, each padded to four bytes.
type cpioWriter struct {
	w   *bufio.Writer
	ino int
	off int64
}

func (a *cpioWriter) write(p []byte) error {
	n, err := a.w.Write(p)
	a.off += int64(n)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return nil
}

func (a *cpioWriter) pad() error {
	if r := a.off % 4; r != 0 {
		return a.write(make([]byte, 4-r))
	}
	return nil
}

func (a *cpioWriter) header(name string, mode uint32, size int64, rdevMajor, rdevMinor int) error {
	name = strings.TrimPrefix(name, "/")
	nlink := 1
	if mode&0o170000 == cpioDir {
		nlink = 2
	}
	ino := a.ino
	a.ino++
	if name == "TRAILER!!!" {
		ino = 0
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	if err := a.write([]byte(hdr)); err != nil {
		return err
	}
	if err := a.write(append([]byte(name), 0)); err != nil {
		return err
	}
	return a.pad()
}

func (a *cpioWriter) file(f File) error {
	src, err := os.Open(f.Source)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("initramfs: %s is not a regular file", f.Source)
	}
	if err := a.header(f.Name, cpioReg|uint32(f.Mode.Perm()), st.Size(), 0, 0); err != nil {
		return err
	}
	n, err := io.Copy(a.w, src)
	a.off += n
	if err != nil {
		return fmt.Errorf("initramfs: copy %s: %w", f.Source, err)
	}
	if n != st.Size() {
		return fmt.Errorf("initramfs: %s changed size while being copied", f.Source)
	}
	return a.pad()
}
