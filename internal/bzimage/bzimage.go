// Package bzimage reads an x86 bzImage: the boot protocol's setup header, the compressed vmlinux
// it carries, and that vmlinux decompressed in process (gzip here; xz, zstd and lz4 through
// internal/decompress). vmimages reads the kernel's BTF from it; the harness boots the vmlinux
// itself through its PVH entry, which spares a TCG guest the decompression and the real-mode
// start.
package bzimage

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/decompress"
)

// Vmlinux returns the vmlinux ELF of the bzImage data.
func Vmlinux(ctx context.Context, data []byte) ([]byte, error) {
	payload, err := Payload(data)
	if err != nil {
		return nil, err
	}
	return Decompress(ctx, payload)
}

// Payload returns the compressed vmlinux of a bzImage. Boot protocol 2.08 (Linux 2.6.26)
// added payload_offset and payload_length to the setup header; the offset counts from the
// protected-mode code, which follows the boot sector and setup_sects sectors of setup code.
func Payload(data []byte) ([]byte, error) {
	if len(data) < 0x250 || !Is(data) {
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

// Is reports whether data carries the x86 boot protocol's setup header.
func Is(data []byte) bool {
	return len(data) >= 0x206 && string(data[0x202:0x206]) == "HdrS"
}

// Compression is one format the kernel may compress vmlinux with.
type Compression struct {
	// Name is the format's usual name (gzip, zstd, ...).
	Name string
	// Magic is how a payload of the format starts.
	Magic []byte
	// format is the decompressor's name for it; empty for the formats only recognised.
	format decompress.Format
}

// Compressions are matched in order against the payload's first bytes. The formats without a
// decompressor are recognised only to name them in the error.
var Compressions = []Compression{
	{Name: "gzip", Magic: []byte{0x1f, 0x8b}},
	{Name: "xz", Magic: []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, format: decompress.XZ},
	{Name: "zstd", Magic: []byte{0x28, 0xb5, 0x2f, 0xfd}, format: decompress.Zstd},
	{Name: "lz4", Magic: []byte{0x02, 0x21, 0x4c, 0x18}, format: decompress.LZ4}, // legacy frame, as the kernel writes it
	{Name: "bzip2", Magic: []byte("BZh")},
	{Name: "lzo", Magic: []byte{0x89, 'L', 'Z', 'O'}},
	{Name: "lzma", Magic: []byte{0x5d, 0x00, 0x00}},
}

// Decompress returns the vmlinux ELF a bzImage payload holds.
func Decompress(ctx context.Context, p []byte) ([]byte, error) {
	var c *Compression
	for i := range Compressions {
		if bytes.HasPrefix(p, Compressions[i].Magic) {
			c = &Compressions[i]
			break
		}
	}
	switch {
	case c == nil:
		return nil, fmt.Errorf("payload starts with % x: no compression format this reader knows", p[:min(len(p), 6)])
	case c.Name == "gzip":
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
		return nil, fmt.Errorf("payload is %s-compressed, which this reader does not decompress", c.Name)
	}
	return decompressSized(ctx, c, p)
}

// decompressSized reads a payload of the formats after which the kernel's build appends the
// decompressed size as a little-endian u32: zstd refuses trailing bytes, and the size checks
// the output.
func decompressSized(ctx context.Context, c *Compression, p []byte) ([]byte, error) {
	if len(p) < len(c.Magic)+4 {
		return nil, fmt.Errorf("%s payload of %d bytes is too short", c.Name, len(p))
	}
	stream, size := p[:len(p)-4], binary.LittleEndian.Uint32(p[len(p)-4:])
	// A payload takes a fraction of a second: ctx is checked once, before it.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	zr, err := decompress.NewReader(c.format, bytes.NewReader(stream))
	if err != nil {
		return nil, fmt.Errorf("%s payload: %w%s", c.Name, err, xzFilterHint(c, err))
	}
	defer zr.Close()
	out := bytes.NewBuffer(make([]byte, 0, int(size)+bytes.MinRead))
	// The size read from the trailer bounds the output: a payload that decompresses to more is
	// refused before it fills memory.
	n, err := out.ReadFrom(io.LimitReader(zr, int64(size)+1))
	if err != nil {
		return nil, fmt.Errorf("%s payload: %w%s", c.Name, err, xzFilterHint(c, err))
	}
	if uint64(n) != uint64(size) {
		return nil, fmt.Errorf("%s payload decompressed to %d bytes, its trailer says %d", c.Name, n, size)
	}
	return out.Bytes(), nil
}

// xzFilterHint explains the likeliest cause of an xz payload the decoder refuses: the kernel's
// scripts/xz_wrap.sh puts the x86 BCJ filter before LZMA2, and the Go xz decoder reads LZMA2
// alone. Debian's kernels are lz4 or zstd, not xz.
func xzFilterHint(c *Compression, err error) string {
	if c.format != decompress.XZ || !strings.Contains(err.Error(), "filter") {
		return ""
	}
	return " (xz kernels carry the x86 BCJ filter, which this reader does not decode)"
}

// xenElfnotePhys32Entry is XEN_ELFNOTE_PHYS32_ENTRY, the note that gives a vmlinux's PVH entry
// point (CONFIG_PVH).
const xenElfnotePhys32Entry = 18

// HasPVHEntry reports whether the vmlinux ELF has a PVH entry point: QEMU then starts it there
// when it is given as -kernel, with no firmware real-mode start and no decompression.
func HasPVHEntry(vmlinux []byte) (bool, error) {
	f, err := elf.NewFile(bytes.NewReader(vmlinux))
	if err != nil {
		return false, err
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		notes, err := io.ReadAll(p.Open())
		if err != nil {
			return false, err
		}
		if hasNote(notes, f.ByteOrder, "Xen", xenElfnotePhys32Entry) {
			return true, nil
		}
	}
	return false, nil
}

// hasNote reports whether the ELF notes of a PT_NOTE segment hold one named name of type typ.
func hasNote(notes []byte, bo binary.ByteOrder, name string, typ uint32) bool {
	align4 := func(n uint64) uint64 { return (n + 3) &^ 3 }
	for len(notes) >= 12 {
		namesz, descsz, t := uint64(bo.Uint32(notes)), uint64(bo.Uint32(notes[4:])), bo.Uint32(notes[8:])
		end := 12 + align4(namesz) + align4(descsz)
		if end > uint64(len(notes)) {
			return false
		}
		if t == typ && namesz > 0 && string(bytes.TrimRight(notes[12:12+namesz], "\x00")) == name {
			return true
		}
		notes = notes[end:]
	}
	return false
}
