package vmimages

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
)

// TestFaultPathCopyOfDebianImage: a local kernel that is a byte-for-byte copy of a cached Debian
// build (someone copied vmlinuz to try a kernels file) must not replace the Debian entry: that
// entry's modules and config are what the Debian kernel's guest needs (5.10 loads its
// virtio-serial driver from them).
func TestFaultPathCopyOfDebianImage(t *testing.T) {
	dir := t.TempDir()
	cache := imageCache{dir: filepath.Join(dir, "cache")}
	if err := os.MkdirAll(filepath.Join(cache.dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	img := fakeBzImage("5.10.0-46-cloud-amd64", "debian")
	staging, err := cache.newStaging()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(staging.Path, "vmlinuz"), string(img))
	writeFile(t, filepath.Join(staging.Path, "modules", "virtio_console.ko"), "module")
	writeFile(t, filepath.Join(staging.Path, "config"), "CONFIG_VIRTIO_CONSOLE=m\n")
	copyPath := filepath.Join(dir, "bzImage")
	writeFile(t, copyPath, string(img))
	sum, err := files.SHA256(context.Background(), copyPath)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{SHA256: sum, Source: "debian series=5.10", Package: "linux-image-5.10.0-46-cloud-amd64",
		DebianVersion: "5.10.262-1", Version: "5.10.262", Release: "5.10.0-46-cloud-amd64",
		Config: "config", Modules: []string{"modules/virtio_console.ko"}}
	if err := cache.store(context.Background(), staging, m); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, "kernels.yaml", "kernels:\n  - name: mine\n    path: bzImage\n")
	entries, _ := cfg.Select(nil)
	if _, err := (&Fetcher{CacheDir: cache.dir}).Fetch(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	got, err := cache.load(context.Background(), sum)
	if err != nil {
		t.Fatal(err)
	}
	if got.Package == "" || len(got.Modules) != 1 || got.Config == "" {
		t.Fatalf("the Debian entry was replaced: %+v", got)
	}
}
