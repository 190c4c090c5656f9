package decompress_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/decompress"
	"github.com/bpfmatrix/bpfmatrix/internal/decompress/compresstest"
)

// sample is repetitive enough to compress and long enough to span several lz4 blocks' worth of
// matches.
var sample = bytes.Repeat([]byte("bpf_probe_read_kernel\x00bpf_map_lookup_elem\x00"), 4096)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		format decompress.Format
		encode func(testing.TB, []byte) []byte
	}{
		{"gzip", decompress.Gzip, func(t testing.TB, d []byte) []byte { return compresstest.Compress(t, decompress.Gzip, d) }},
		{"xz", decompress.XZ, func(t testing.TB, d []byte) []byte { return compresstest.Compress(t, decompress.XZ, d) }},
		{"zstd", decompress.Zstd, func(t testing.TB, d []byte) []byte { return compresstest.Compress(t, decompress.Zstd, d) }},
		{"lz4 frame", decompress.LZ4, func(t testing.TB, d []byte) []byte { return compresstest.Compress(t, decompress.LZ4, d) }},
		{"lz4 legacy frame", decompress.LZ4, compresstest.CompressLZ4Legacy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			packed := tt.encode(t, sample)
			if got := decompress.Detect(packed); got != tt.format {
				t.Errorf("Detect = %q, want %q", got, tt.format)
			}
			got, err := readAll(tt.format, packed)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, sample) {
				t.Errorf("decompressed %d bytes, want the %d compressed", len(got), len(sample))
			}
			// A stream cut short is an error, never a short read taken for the whole.
			if _, err := readAll(tt.format, packed[:len(packed)*2/3]); err == nil {
				t.Error("a truncated stream decompressed without error")
			}
		})
	}
}

func TestDetectAndForName(t *testing.T) {
	tests := []struct {
		name   string
		prefix []byte
		want   decompress.Format
	}{
		{"data.tar.xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00, 0x00}, decompress.XZ},
		{"virtio.ko.zst", []byte{0x28, 0xb5, 0x2f, 0xfd}, decompress.Zstd},
		{"data.tar.gz", []byte{0x1f, 0x8b, 0x08}, decompress.Gzip},
		{"vmlinux.lz4", []byte{0x02, 0x21, 0x4c, 0x18}, decompress.LZ4},
		{"virtio.ko", []byte("\x7fELF"), ""},
	}
	for _, tt := range tests {
		if got := decompress.Detect(tt.prefix); got != tt.want {
			t.Errorf("Detect(% x) = %q, want %q", tt.prefix, got, tt.want)
		}
		if got := decompress.ForName(tt.name); got != tt.want {
			t.Errorf("ForName(%s) = %q, want %q", tt.name, got, tt.want)
		}
		if tt.want != "" && !strings.HasSuffix(tt.name, tt.want.Ext()) {
			t.Errorf("%q.Ext() = %q, not the extension of %s", tt.want, tt.want.Ext(), tt.name)
		}
	}
	if _, err := decompress.NewReader("bzip2", strings.NewReader("BZh9")); err == nil {
		t.Error("NewReader accepted a format it has no decompressor for")
	}
}

func readAll(f decompress.Format, data []byte) ([]byte, error) {
	r, err := decompress.NewReader(f, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// FuzzNewReader feeds arbitrary bytes to the decoder their magic selects. A stream that
// decodes without error must decode to the same bytes after compressing them again.
func FuzzNewReader(f *testing.F) {
	for _, fm := range []decompress.Format{decompress.Gzip, decompress.XZ, decompress.Zstd, decompress.LZ4} {
		f.Add(compresstest.Compress(f, fm, []byte("bpf_kfunc")))
	}
	f.Add(compresstest.CompressLZ4Legacy(f, []byte("bpf_kfunc")))
	f.Fuzz(func(t *testing.T, data []byte) {
		fm := decompress.Detect(data)
		if fm == "" {
			return
		}
		r, err := decompress.NewReader(fm, bytes.NewReader(data))
		if err != nil {
			return
		}
		defer r.Close()
		const limit = 16 << 20 // bounds what a tiny stream may claim to expand to
		out, err := io.ReadAll(io.LimitReader(r, limit))
		if err != nil || len(out) == limit {
			return
		}
		again, err := readAll(fm, compresstest.Compress(t, fm, out))
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("%s: %d bytes decoded, their round trip gave %d bytes, %v", fm, len(out), len(again), err)
		}
	})
}
