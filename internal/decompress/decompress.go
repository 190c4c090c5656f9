// Package decompress opens, in process, the compressed streams bpfmatrix meets in kernel
// packages and images: gzip, xz, zstd and lz4 (frame and legacy frame). Reading them here
// rather than through the xz, zstd and lz4 commands lets an installed bpfmatrix fetch and read
// kernels on a machine that has none of those tools.
package decompress

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// Format is a compression format, named as its command-line tool names it.
type Format string

// The formats this package reads.
const (
	Gzip Format = "gzip"
	XZ   Format = "xz"
	Zstd Format = "zstd"
	LZ4  Format = "lz4"
)

// formats holds each format's magic numbers and file name extension. LZ4 has two magics: the
// frame format's and the legacy frame's, which the kernel's build writes for lz4 images.
var formats = []struct {
	f      Format
	ext    string
	magics [][]byte
}{
	{Gzip, ".gz", [][]byte{{0x1f, 0x8b}}},
	{XZ, ".xz", [][]byte{{0xfd, '7', 'z', 'X', 'Z', 0x00}}},
	{Zstd, ".zst", [][]byte{{0x28, 0xb5, 0x2f, 0xfd}}},
	{LZ4, ".lz4", [][]byte{{0x04, 0x22, 0x4d, 0x18}, {0x02, 0x21, 0x4c, 0x18}}},
}

// Detect returns the format whose magic number p begins with, or "" when p begins with none
// this package reads.
func Detect(p []byte) Format {
	for _, e := range formats {
		for _, m := range e.magics {
			if bytes.HasPrefix(p, m) {
				return e.f
			}
		}
	}
	return ""
}

// ForName returns the format a file name's extension says (".gz", ".xz", ".zst", ".lz4"), or
// "" when the name has none of them.
func ForName(name string) Format {
	for _, e := range formats {
		if strings.HasSuffix(name, e.ext) {
			return e.f
		}
	}
	return ""
}

// Ext returns the file name extension of f, with its dot.
func (f Format) Ext() string {
	for _, e := range formats {
		if e.f == f {
			return e.ext
		}
	}
	return ""
}

// NewReader returns a reader of what r decompresses to in format f. Closing it releases the
// decoder (zstd's runs goroutines) and does not close r. A gzip stream may hold several
// members, an xz stream several streams, as their tools accept.
func NewReader(f Format, r io.Reader) (io.ReadCloser, error) {
	switch f {
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case XZ:
		xr, err := xz.NewReader(r)
		if err != nil {
			return nil, err // the library's errors begin with "xz: "
		}
		return io.NopCloser(xr), nil
	case Zstd:
		// One goroutine: the callers read one stream at a time, and more only cost memory.
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	case LZ4:
		return io.NopCloser(lz4.NewReader(r)), nil
	}
	return nil, fmt.Errorf("no decompressor for format %q", string(f))
}
