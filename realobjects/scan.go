package realobjects

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/debpkg"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
)

// Found is one BPF object of a package: a .o file it installs, or an object embedded in one of
// its binaries.
type Found struct {
	File string // the file's path in the package, without the leading "./"
	// Offset is where an embedded object starts in File; -1 for a file that is the object.
	Offset int64
	Data   []byte
}

// Embedded reports whether the object sits inside a larger file.
func (f Found) Embedded() bool { return f.Offset >= 0 }

// Name is how a found object is named in lock files and manifests: the file's path, with
// "@<offset>" for an object embedded in it.
func (f Found) Name() string {
	if f.Embedded() {
		return fmt.Sprintf("%s@%d", f.File, f.Offset)
	}
	return f.File
}

// maxFile bounds one file read from a package: the largest binaries that embed BPF objects
// (Go tools, systemd's shared library) are tens of MB.
var maxFile = files.Limit{What: "a packaged file", Max: 256 << 20}

// ScanDeb reads the data archive of a .deb and calls fn for every BPF object in it: each
// regular file that is a BPF ELF object, and each object embedded in another ELF file (a libbpf
// skeleton in .rodata). Files that are not ELF are not searched.
func ScanDeb(ctx context.Context, debPath string, fn func(Found) error) error {
	return debpkg.Walk(ctx, debPath, nil, func(hdr *tar.Header, r io.Reader) error {
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		name := strings.TrimPrefix(path.Clean(hdr.Name), "./")
		if err := scanFile(r, name, fn); err != nil {
			return fmt.Errorf("%s: %s: %w", debPath, name, err)
		}
		return nil
	})
}

// scanFile reports the objects of one packaged file.
func scanFile(r io.Reader, name string, fn func(Found) error) error {
	var head [4]byte
	n, err := io.ReadFull(r, head[:])
	if n < len(head) || !bytes.Equal(head[:], elfMagic) {
		return nil // not ELF (or shorter than its magic): nothing to find
	}
	if err != nil {
		return err
	}
	rest, err := maxFile.ReadAll(name, r)
	if err != nil {
		return err
	}
	data := append(head[:], rest...)
	if IsBPFObject(data) {
		return fn(Found{File: name, Offset: -1, Data: data})
	}
	for _, e := range FindEmbedded(data) {
		if err := fn(Found{File: name, Offset: e.Offset, Data: e.Data}); err != nil {
			return err
		}
	}
	return nil
}
