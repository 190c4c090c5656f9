package vmimages

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// The arm64 kernel Image (Documentation/arch/arm64/booting.rst) is the kernel's memory image
// itself, not a loader around a compressed payload as the x86 bzImage is: a 64-byte header whose
// magic "ARM\x64" sits at offset 0x38, then the kernel as it lies in memory. Debian's
// cloud-arm64 packages ship it uncompressed as vmlinuz (30 MB for 6.12, 2025-2026 builds); other
// builds ship Image.gz, which QEMU and boot loaders decompress. Being the memory image, it holds
// the kernel's .BTF section and its version banner as they are, at offsets no header records.

// arm64ImageMagic is the header's magic, at arm64MagicOffset.
var arm64ImageMagic = []byte("ARM\x64")

const arm64MagicOffset = 0x38

// maxARM64Image bounds what a gzip-compressed Image may decompress to: the kernel's memory
// image is tens of megabytes, and a file that inflates past this is not one.
const maxARM64Image = 512 << 20

// isARM64Image reports whether data starts with an uncompressed arm64 Image header.
func isARM64Image(data []byte) bool {
	return len(data) >= arm64MagicOffset+len(arm64ImageMagic) &&
		bytes.Equal(data[arm64MagicOffset:arm64MagicOffset+len(arm64ImageMagic)], arm64ImageMagic)
}

// arm64ImageData returns the uncompressed arm64 Image that data is, or holds gzip-compressed.
func arm64ImageData(data []byte) ([]byte, error) {
	if isARM64Image(data) {
		return data, nil
	}
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return nil, errors.New("not an arm64 Image (no ARM\\x64 magic at 0x38) nor a gzip-compressed one")
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("gzip-compressed Image: %w", err)
	}
	zr.Multistream(false)
	var out bytes.Buffer
	n, err := out.ReadFrom(io.LimitReader(zr, maxARM64Image+1))
	if err != nil {
		return nil, fmt.Errorf("gzip-compressed Image: %w", err)
	}
	if n > maxARM64Image {
		return nil, fmt.Errorf("gzip-compressed Image inflates past %d MiB: not a kernel", maxARM64Image>>20)
	}
	if !isARM64Image(out.Bytes()) {
		return nil, errors.New("gzip-compressed file that is not an arm64 Image (no ARM\\x64 magic at 0x38)")
	}
	return out.Bytes(), nil
}

// bannerRelease reads the release from the kernel's version banner ("Linux version <release>
// (<builder>) ..."), which an uncompressed memory image holds as the kernel prints it at boot.
// The banner is followed by the builder in parentheses; that tells it from other strings that
// start alike (the format string of /proc/version, "Linux version %s").
func bannerRelease(img []byte) (string, bool) {
	const prefix = "Linux version "
	for rest := img; ; {
		i := bytes.Index(rest, []byte(prefix))
		if i < 0 {
			return "", false
		}
		rest = rest[i+len(prefix):]
		line := rest[:min(len(rest), 256)]
		if j := bytes.IndexByte(line, 0); j >= 0 {
			line = line[:j]
		}
		release, after, ok := strings.Cut(string(line), " ")
		if ok && strings.HasPrefix(after, "(") && releasePattern.MatchString(release) {
			return release, true
		}
	}
}

// vmlinuzRelease reads the release a kernel image names and checks that it is an image for
// arch. For amd64, ok is false when the file is no bzImage (the caller decides whether that is
// an error); for arm64, a file that is no arm64 Image, or one without a version banner, is an
// error.
func vmlinuzRelease(file string, arch observation.Arch) (release string, ok bool, err error) {
	if archOrDefault(arch) == observation.ArchAMD64 {
		return bzImageRelease(file)
	}
	data, err := files.ReadRegular(file, files.Image)
	if err != nil {
		return "", false, err
	}
	img, err := arm64ImageData(data)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", file, err)
	}
	release, ok = bannerRelease(img)
	if !ok {
		return "", false, fmt.Errorf("%s: arm64 Image without a \"Linux version\" banner", file)
	}
	return release, true, nil
}

// btfHeader starts a raw BTF blob as the kernel writes it: magic 0xeb9f, version 1, no flags, a
// 24-byte header (little-endian, as arm64 kernels are).
var btfHeader = []byte{0x9f, 0xeb, 1, 0, 24, 0, 0, 0}

// rawBTFCandidate is a BTF header found in a memory image and the blob's size that it gives.
type rawBTFCandidate struct{ off, size int }

// imageBTF finds the kernel's BTF in an uncompressed memory image: the image keeps no section
// table, so every BTF header in it is a candidate, sized by its type and string lengths, and the
// largest that parses is the kernel's (a kernel also embeds small BTF blobs, the BPF programs of
// its preloaded iterators among them).
func imageBTF(img []byte) (*btf.Spec, error) {
	var cands []rawBTFCandidate
	le := binary.LittleEndian
	for off := 0; off < len(img); {
		i := bytes.Index(img[off:], btfHeader)
		if i < 0 {
			break
		}
		at := off + i
		off = at + 1
		if len(img)-at < 24 {
			break
		}
		typeOff, typeLen := uint64(le.Uint32(img[at+8:])), uint64(le.Uint32(img[at+12:]))
		strOff, strLen := uint64(le.Uint32(img[at+16:])), uint64(le.Uint32(img[at+20:]))
		size := 24 + max(typeOff+typeLen, strOff+strLen)
		if typeLen == 0 || strLen == 0 || size > uint64(len(img)-at) {
			continue
		}
		cands = append(cands, rawBTFCandidate{at, int(size)})
	}
	if len(cands) == 0 {
		return nil, errors.New("no BTF in the image (a kernel built without CONFIG_DEBUG_INFO_BTF)")
	}
	slices.SortStableFunc(cands, func(a, b rawBTFCandidate) int { return cmp.Compare(b.size, a.size) })
	var errs []error
	for _, c := range cands {
		spec, err := btf.LoadSpecFromReader(bytes.NewReader(img[c.off : c.off+c.size]))
		if err == nil {
			return spec, nil
		}
		errs = append(errs, fmt.Errorf("BTF at %#x (%d bytes): %w", c.off, c.size, err))
	}
	return nil, errors.Join(errs...)
}
