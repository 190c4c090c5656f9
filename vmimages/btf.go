package vmimages

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/decompress"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
)

// ImageBTF returns the BTF of the vmlinux inside the cached image whose vmlinuz has the sha256
// sum: the kernel's own type information, read on the host without booting it, so that what a
// guest reported about itself can be checked against the image it booted. An empty cacheDir
// means DefaultCacheDir(). The entry is verified against its manifest first but, unlike a
// fetch, never removed when it fails; an image that is not cached is an error wrapping
// fs.ErrNotExist.
func ImageBTF(ctx context.Context, cacheDir, sum string) (*btf.Spec, error) {
	if cacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		cacheDir = d
	}
	if !isSHA256(sum) {
		return nil, fmt.Errorf("image BTF: %q is not a sha256", sum)
	}
	c := imageCache{dir: cacheDir}
	if err := c.Status(sum); err != nil {
		return nil, fmt.Errorf("image %s in %s: %w", shortSum(sum), cacheDir, err)
	}
	return VmlinuzBTF(ctx, filepath.Join(c.imageDir(sum), "vmlinuz"))
}

// VmlinuzBTF returns the BTF of the vmlinux inside the kernel image at path: an x86 bzImage or
// an arm64 Image (uncompressed, as Debian ships it, or gzip-compressed). In a bzImage the boot
// header says where the compressed vmlinux lies; its first bytes say how it is compressed. gzip
// is read here, and zstd and lz4 (Debian's 5.10 and 6.1 images use lz4, later ones zstd) and xz
// without the x86 BCJ filter through internal/decompress, all in process. An arm64 Image is the
// kernel's memory image, searched for its BTF (imageBTF).
func VmlinuzBTF(ctx context.Context, path string) (*btf.Spec, error) {
	data, err := files.ReadRegular(path, files.Image)
	if err != nil {
		return nil, err
	}
	if !isBzImage(data) {
		img, aerr := arm64ImageData(data)
		if aerr != nil {
			return nil, fmt.Errorf("%s: neither an x86 bzImage (no HdrS setup header) nor an arm64 Image: %w", path, aerr)
		}
		spec, err := imageBTF(img)
		if err != nil {
			return nil, fmt.Errorf("%s: arm64 Image: %w", path, err)
		}
		return spec, nil
	}
	payload, err := bzImagePayload(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	vmlinux, err := decompressPayload(ctx, payload)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	spec, err := elfBTF(vmlinux)
	if err != nil {
		return nil, fmt.Errorf("%s: vmlinux: %w", path, err)
	}
	return spec, nil
}

// bzImagePayload returns the compressed vmlinux of a bzImage. Boot protocol 2.08 (Linux 2.6.26)
// added payload_offset and payload_length to the setup header; the offset counts from the
// protected-mode code, which follows the boot sector and setup_sects sectors of setup code.
func bzImagePayload(data []byte) ([]byte, error) {
	if len(data) < 0x250 || !isBzImage(data) {
		return nil, errors.New("not a bzImage (no HdrS setup header)")
	}
	le := binary.LittleEndian
	if v := le.Uint16(data[0x206:]); v < 0x208 {
		return nil, fmt.Errorf("boot protocol %d.%02d predates payload_offset (2.08)", v>>8, v&0xff)
	}
	setupSects := int(data[0x1f1])
	if setupSects == 0 {
		setupSects = 4 // what the boot protocol says a zero means
	}
	start := uint64(setupSects+1)*512 + uint64(le.Uint32(data[0x248:]))
	end := start + uint64(le.Uint32(data[0x24c:]))
	if start >= end || end > uint64(len(data)) {
		return nil, fmt.Errorf("payload [%d, %d) lies outside the %d-byte image", start, end, len(data))
	}
	return data[start:end], nil
}

// isBzImage reports whether data carries the x86 boot protocol's setup header.
func isBzImage(data []byte) bool {
	return len(data) >= 0x206 && string(data[0x202:0x206]) == "HdrS"
}

// compression is one format the kernel may compress vmlinux with.
type compression struct {
	name  string
	magic []byte
	// format is the decompressor's name for it; empty for the formats only recognised.
	format decompress.Format
}

// compressions are matched in order against the payload's first bytes. The formats without a
// decompressor are recognised only to name them in the error.
var compressions = []compression{
	{name: "gzip", magic: []byte{0x1f, 0x8b}},
	{name: "xz", magic: []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, format: decompress.XZ},
	{name: "zstd", magic: []byte{0x28, 0xb5, 0x2f, 0xfd}, format: decompress.Zstd},
	{name: "lz4", magic: []byte{0x02, 0x21, 0x4c, 0x18}, format: decompress.LZ4}, // legacy frame, as the kernel writes it
	{name: "bzip2", magic: []byte("BZh")},
	{name: "lzo", magic: []byte{0x89, 'L', 'Z', 'O'}},
	{name: "lzma", magic: []byte{0x5d, 0x00, 0x00}},
}

// decompressPayload returns the vmlinux ELF a bzImage payload holds.
func decompressPayload(ctx context.Context, p []byte) ([]byte, error) {
	var c *compression
	for i := range compressions {
		if bytes.HasPrefix(p, compressions[i].magic) {
			c = &compressions[i]
			break
		}
	}
	switch {
	case c == nil:
		return nil, fmt.Errorf("payload starts with % x: no compression format this reader knows", p[:min(len(p), 6)])
	case c.name == "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(p))
		if err != nil {
			return nil, fmt.Errorf("gzip payload: %w", err)
		}
		// The kernel's build writes one gzip member; what follows it is not ours to read.
		zr.Multistream(false)
		out, err := io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("gzip payload: %w", err)
		}
		return out, nil
	case c.format == "":
		return nil, fmt.Errorf("payload is %s-compressed, which this reader does not decompress", c.name)
	}
	return decompressSized(ctx, c, p)
}

// decompressSized reads a payload of the formats after which the kernel's build appends the
// decompressed size as a little-endian u32: zstd refuses trailing bytes, and the size checks
// the output.
func decompressSized(ctx context.Context, c *compression, p []byte) ([]byte, error) {
	if len(p) < len(c.magic)+4 {
		return nil, fmt.Errorf("%s payload of %d bytes is too short", c.name, len(p))
	}
	stream, size := p[:len(p)-4], binary.LittleEndian.Uint32(p[len(p)-4:])
	// A payload takes a fraction of a second: ctx is checked once, before it.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	zr, err := decompress.NewReader(c.format, bytes.NewReader(stream))
	if err != nil {
		return nil, fmt.Errorf("%s payload: %w%s", c.name, err, xzFilterHint(c, err))
	}
	defer zr.Close()
	out := bytes.NewBuffer(make([]byte, 0, int(size)+bytes.MinRead))
	// The size read from the trailer bounds the output: a payload that decompresses to more is
	// refused before it fills memory.
	n, err := out.ReadFrom(io.LimitReader(zr, int64(size)+1))
	if err != nil {
		return nil, fmt.Errorf("%s payload: %w%s", c.name, err, xzFilterHint(c, err))
	}
	if uint64(n) != uint64(size) {
		return nil, fmt.Errorf("%s payload decompressed to %d bytes, its trailer says %d", c.name, n, size)
	}
	return out.Bytes(), nil
}

// xzFilterHint explains the likeliest cause of an xz payload the decoder refuses: the kernel's
// scripts/xz_wrap.sh puts the x86 BCJ filter before LZMA2, and the Go xz decoder reads LZMA2
// alone. Debian's kernels are lz4 or zstd, not xz.
func xzFilterHint(c *compression, err error) string {
	if c.format != decompress.XZ || !strings.Contains(err.Error(), "filter") {
		return ""
	}
	return " (xz kernels carry the x86 BCJ filter, which this reader does not decode)"
}

// elfBTF parses the .BTF section of a vmlinux ELF. The section alone is read as raw BTF: the
// kernel needs nothing else of the ELF to describe itself, and a bzImage's vmlinux has no
// symbol table to offer anyway.
func elfBTF(vmlinux []byte) (*btf.Spec, error) {
	f, err := elf.NewFile(bytes.NewReader(vmlinux))
	if err != nil {
		return nil, err
	}
	sec := f.Section(".BTF")
	if sec == nil {
		return nil, errors.New("no .BTF section (a kernel built without CONFIG_DEBUG_INFO_BTF)")
	}
	raw, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf(".BTF: %w", err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf(".BTF: %w", err)
	}
	return spec, nil
}
