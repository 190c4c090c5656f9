// Package debpkg reads the data archive of a Debian binary package (.deb) in process: the ar
// container, then the data.tar member in whichever compression dpkg-deb(1) allows and
// internal/decompress reads (xz for Debian's kernels, zstd on Ubuntu, gzip). Reading it here
// rather than through dpkg-deb --fsys-tarfile lets bpfmatrix unpack kernels on a machine
// without dpkg.
package debpkg

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
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
	ms, err := members(r, size)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range ms {
		rest, ok := strings.CutPrefix(m.name, "data.tar")
		if !ok {
			continue
		}
		if rest == "" {
			return tar.NewReader(m.data), io.NopCloser(nil), nil
		}
		f := decompress.ForName(m.name)
		if f == "" || f.Ext() != rest {
			return nil, nil, fmt.Errorf("%s: a compression this reader does not know", m.name)
		}
		zr, err := decompress.NewReaderAt(f, m.data, m.data.Size())
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", m.name, err)
		}
		return tar.NewReader(zr), zr, nil
	}
	return nil, nil, errors.New("no data.tar member: not a Debian binary package")
}
