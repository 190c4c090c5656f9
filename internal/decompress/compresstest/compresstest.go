// Package compresstest compresses test data in the formats internal/decompress reads, with the
// same libraries' encoders, so that tests of decompression need no xz, zstd or lz4 command.
package compresstest

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/bpfmatrix/bpfmatrix/internal/decompress"
)

// Compress returns data compressed in format f: one gzip member, an xz stream with a CRC32
// check (as the kernel's build writes), a zstd frame, or an lz4 frame.
func Compress(t testing.TB, f decompress.Format, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch f {
	case decompress.Gzip:
		w = gzip.NewWriter(&buf)
	case decompress.XZ:
		w, err = xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(&buf)
	case decompress.Zstd:
		w, err = zstd.NewWriter(&buf)
	case decompress.LZ4:
		w = lz4.NewWriter(&buf)
	default:
		t.Fatalf("compresstest: no encoder for %q", string(f))
	}
	if err != nil {
		t.Fatalf("%s encoder: %v", f, err)
	}
	return write(t, f, w, &buf, data)
}

// CompressLZ4Legacy returns data in the lz4 legacy frame format (magic 0x184C2102), the one
// the kernel's build writes for lz4-compressed images.
func CompressLZ4Legacy(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := lz4.NewWriter(&buf)
	if err := w.Apply(lz4.LegacyOption(true)); err != nil {
		t.Fatalf("lz4 legacy encoder: %v", err)
	}
	return write(t, decompress.LZ4, w, &buf, data)
}

func write(t testing.TB, f decompress.Format, w io.WriteCloser, buf *bytes.Buffer, data []byte) []byte {
	t.Helper()
	if _, err := w.Write(data); err != nil {
		t.Fatalf("%s encoder: %v", f, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("%s encoder: %v", f, err)
	}
	return buf.Bytes()
}
