package vmimages

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/bzimage"
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
	if !files.IsSHA256(sum) {
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
	spec, err := kernelBTF(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return spec, nil
}

// kernelBTF reads the BTF of a kernel image's bytes, an x86 bzImage or an arm64 Image; its
// errors say which kind of image failed, and VmlinuzBTF names the file once for both.
func kernelBTF(ctx context.Context, data []byte) (*btf.Spec, error) {
	if !bzimage.Is(data) {
		img, err := arm64ImageData(data)
		if err != nil {
			return nil, fmt.Errorf("neither an x86 bzImage (no HdrS setup header) nor an arm64 Image: %w", err)
		}
		spec, err := imageBTF(img)
		if err != nil {
			return nil, fmt.Errorf("arm64 Image: %w", err)
		}
		return spec, nil
	}
	vmlinux, err := bzimage.Vmlinux(ctx, data)
	if err != nil {
		return nil, err
	}
	spec, err := elfBTF(vmlinux)
	if err != nil {
		return nil, fmt.Errorf("vmlinux: %w", err)
	}
	return spec, nil
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
