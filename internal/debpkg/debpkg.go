// Package debpkg reads the data archive of a Debian binary package (.deb) in process: the ar
// container, then the data.tar member in whichever compression dpkg-deb(1) allows and
// internal/decompress reads (xz for Debian's kernels, zstd on Ubuntu, gzip). Reading it here
// rather than through dpkg-deb --fsys-tarfile lets bpfmatrix unpack kernels on a machine
// without dpkg.
package debpkg

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/decompress"
)

// arMagic begins every ar archive; each member follows a 60-byte header.
const arMagic = "!<arch>\n"

const arHeaderLen = 60

// member is one file of an ar archive.
type member struct {
	name string
	data *io.SectionReader
}

// members lists the files of the ar archive r holds, size bytes long.
func members(r io.ReaderAt, size int64) ([]member, error) {
	head := make([]byte, len(arMagic))
	if _, err := r.ReadAt(head, 0); err != nil || string(head) != arMagic {
		return nil, errors.New("not a Debian package (no ar header)")
	}
	var ms []member
	hdr := make([]byte, arHeaderLen)
	for off := int64(len(arMagic)); off < size; {
		if _, err := r.ReadAt(hdr, off); err != nil {
			return nil, fmt.Errorf("ar member header at byte %d: %w", off, err)
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, fmt.Errorf("ar member header at byte %d: bad end mark %q", off, hdr[58:60])
		}
		// GNU ar ends names with '/', BSD ar pads them with spaces; dpkg writes either.
		name := strings.TrimSuffix(strings.TrimRight(string(hdr[:16]), " "), "/")
		n, err := strconv.ParseInt(strings.TrimRight(string(hdr[48:58]), " "), 10, 64)
		if err != nil || n < 0 || n > size-off-arHeaderLen {
			return nil, fmt.Errorf("ar member %q: size %q does not fit in the %d-byte file", name, bytes.TrimRight(hdr[48:58], " "), size)
		}
		ms = append(ms, member{name: name, data: io.NewSectionReader(r, off+arHeaderLen, n)})
		off += arHeaderLen + n + n%2 // members start at even offsets
	}
	return ms, nil
}

// Data returns a tar reader of the decompressed data archive of the .deb that r holds, size
// bytes long, and the Closer that releases its decompressor.
func Data(r io.ReaderAt, size int64) (*tar.Reader, io.Closer, error) {
	a, err := Open(r, size)
	if err != nil {
		return nil, nil, err
	}
	return a.Tar, a, nil
}

// Archive is the data archive of a .deb, being read.
type Archive struct {
	// Tar reads the archive from its start.
	Tar    *tar.Reader
	blocks *decompress.XZBlocks // when the archive is an xz file of several blocks
	closer io.Closer
}

// Open opens the data archive of the .deb that r holds, size bytes long. Close releases its
// decompressor.
func Open(r io.ReaderAt, size int64) (*Archive, error) {
	ms, err := members(r, size)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		rest, ok := strings.CutPrefix(m.name, "data.tar")
		if !ok {
			continue
		}
		if rest == "" {
			return &Archive{Tar: tar.NewReader(m.data), closer: io.NopCloser(nil)}, nil
		}
		f := decompress.ForName(m.name)
		if f == "" || f.Ext() != rest {
			return nil, fmt.Errorf("%s: a compression this reader does not know", m.name)
		}
		if f == decompress.XZ {
			workers := runtime.GOMAXPROCS(0)
			if x, err := decompress.OpenXZBlocks(m.data, m.data.Size(), workers); err == nil {
				return &Archive{Tar: tar.NewReader(x.Reader(workers)), blocks: x, closer: x}, nil
			}
		}
		zr, err := decompress.NewReaderAt(f, m.data, m.data.Size())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
		return &Archive{Tar: tar.NewReader(zr), closer: zr}, nil
	}
	return nil, errors.New("no data.tar member: not a Debian binary package")
}

// Close releases the decompressor and stops any decoding under way.
func (a *Archive) Close() error { return a.closer.Close() }

// ErrNoTail is TailFiles' answer for an archive whose end cannot be read on its own.
var ErrNoTail = errors.New("the archive's end cannot be read on its own")

// TailFiles returns the regular files that keep accepts (by name, as the archive spells it)
// and that lie wholly in the last compressed block of an xz archive of several blocks, read
// without the blocks before it: the files at the end of a large package (a kernel's
// modules.builtin) are known before the reader gets there. The block's first file is not
// trusted (its header may follow a long name that is not in the block). When the block holds
// no chain of tar headers up to the archive's end, the answer is ErrNoTail.
func (a *Archive) TailFiles(keep func(name string) bool) (map[string][]byte, error) {
	if a.blocks == nil {
		return nil, ErrNoTail
	}
	last := a.blocks.Len() - 1
	if a.blocks.Offset(last)%blockSize != 0 {
		return nil, ErrNoTail
	}
	data, err := a.blocks.Block(last)
	if err != nil {
		return nil, err
	}
	for k := 0; k+blockSize <= len(data); k += blockSize {
		if files, ok := tarFrom(data[k:], keep); ok {
			return files, nil
		}
	}
	return nil, ErrNoTail
}

// blockSize is tar's record size: headers begin at its multiples.
const blockSize = 512

// tarFrom reads data as the rest of a tar archive, from a header to the archive's end, and
// returns the files keep accepts; ok is false unless at least two headers chain to the end.
func tarFrom(data []byte, keep func(string) bool) (files map[string][]byte, ok bool) {
	tr := tar.NewReader(bytes.NewReader(data))
	files = map[string][]byte{}
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if err == io.EOF && i >= 2 {
			return files, true
		}
		if err != nil {
			return nil, false
		}
		if i == 0 || hdr.Typeflag != tar.TypeReg || !keep(hdr.Name) {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil || int64(len(b)) != hdr.Size {
			return nil, false
		}
		files[hdr.Name] = b
	}
}

// ErrStopWalk, returned by a Walk callback, ends the walk early without an error.
var ErrStopWalk = errors.New("stop walking the archive")

// Walk streams the data archive of the .deb at path through fn, one file at a time (its tar
// header and contents), until the end or until fn returns ErrStopWalk; ctx is checked between
// files. opened, unless nil, is called with the archive before the walk begins. An error of the
// archive names the package's file; fn's errors are returned as they are.
func Walk(ctx context.Context, path string, opened func(*Archive), fn func(hdr *tar.Header, r io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	a, err := Open(f, st.Size())
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	defer a.Close()
	if opened != nil {
		opened(a)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := a.Tar.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Base(path), err)
		}
		if err := fn(hdr, a.Tar); errors.Is(err, ErrStopWalk) {
			return nil
		} else if err != nil {
			return err
		}
	}
}
