package vmimages

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/bzimage"
	"github.com/bpfmatrix/bpfmatrix/internal/debpkg"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// The benchmarks below time the unpacking the cache does, on the images and packages a fetch
// has already left in the user's cache (read only; a benchmark whose input is not cached is
// skipped): `go test -run '^$' -bench Unpack -benchtime 3x ./vmimages/`.

// cachedPayload returns the compressed vmlinux of the first cached image whose payload has the
// magic of the named compression.
func cachedPayload(b *testing.B, format string) []byte {
	b.Helper()
	dir, err := DefaultCacheDir()
	testenv.Optional(b, err, "set HOME or XDG_CACHE_HOME")
	var magic []byte
	for _, c := range bzimage.Compressions {
		if c.Name == format {
			magic = c.Magic
		}
	}
	vmlinuzes, _ := filepath.Glob(filepath.Join(dir, "images", "*", "vmlinuz"))
	for _, p := range vmlinuzes {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		if payload, err := bzimage.Payload(data); err == nil && bytes.HasPrefix(payload, magic) {
			return payload
		}
	}
	testenv.Optional(b, fmt.Errorf("no cached image in %s has a %s payload", dir, format), "bpfmatrix kernels fetch")
	return nil
}

func benchmarkPayload(b *testing.B, format string) {
	payload := cachedPayload(b, format)
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := bzimage.Decompress(context.Background(), payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnpackVmlinuxLZ4(b *testing.B)  { benchmarkPayload(b, "lz4") }
func BenchmarkUnpackVmlinuxZstd(b *testing.B) { benchmarkPayload(b, "zstd") }

// BenchmarkUnpackDebData reads every file of a kernel package's data.tar.xz.
func BenchmarkUnpackDebData(b *testing.B) {
	deb := cachedPackage(b, "linux-image-5.10.*.deb")
	for b.Loop() {
		err := debpkg.Walk(context.Background(), deb, nil, func(_ *tar.Header, r io.Reader) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnpackExtractDeb extracts vmlinuz, config and the virtio modules of kernel packages,
// as a fetch does: 5.10 (virtio modules, data.tar.xz in 4 blocks), 6.1 (the same, 5 blocks),
// 6.12 (virtio built in, modules .ko.xz, 2 blocks) and 7.3's linux-binary (vmlinuz alone, 1
// block).
func BenchmarkUnpackExtractDeb(b *testing.B) {
	for _, k := range []string{"linux-image-5.10", "linux-image-6.1", "linux-image-6.12", "linux-binary-7.3"} {
		b.Run(k, func(b *testing.B) {
			deb := cachedPackage(b, k+".*.deb")
			for b.Loop() {
				if _, err := extractDeb(context.Background(), deb, b.TempDir(), extractOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
