package harness

import (
	"context"
	"os"
	"path/filepath"

	"github.com/bpfmatrix/bpfmatrix/internal/bzimage"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
)

// pvhKernel writes into dir the vmlinux inside the bzImage at path, when that vmlinux has a PVH
// entry (CONFIG_PVH, as every Debian amd64 kernel of kernels.yaml has), and returns its path.
// QEMU starts such an ELF at that entry: no firmware real-mode start and no decompression, which
// under TCG cost about 1.8 s of every boot (7.3 reached its root mount in 2.3 s instead of 4.1 s
// on the 2-core build machine); on the host the decompression takes a quarter of a second. Any
// other image is booted as it is: "" then, with the reason for a notice when it was a bzImage
// whose vmlinux could not be booted so (none for anything else: an arm64 Image, a vmlinux).
func pvhKernel(ctx context.Context, path, dir string) (string, string) {
	data, err := files.ReadRegular(path, files.Image)
	if err != nil {
		return "", err.Error()
	}
	if !bzimage.Is(data) {
		return "", "" // QEMU reads what it is given; nothing to say of it
	}
	vmlinux, err := bzimage.Vmlinux(ctx, data)
	if err != nil {
		return "", err.Error()
	}
	if ok, err := bzimage.HasPVHEntry(vmlinux); !ok {
		if err != nil {
			return "", err.Error()
		}
		return "", "its vmlinux has no PVH entry"
	}
	out := filepath.Join(dir, "vmlinux")
	if err := os.WriteFile(out, vmlinux, 0o644); err != nil {
		return "", err.Error()
	}
	return out, ""
}
