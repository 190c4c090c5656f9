package vmimages

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuiltinKernelsFile checks that the built-in kernels file is the repository's pair and that
// every kernel in it is pinned: an installed bpfmatrix has no way to write a missing pin, so an
// unpinned kernel would be resolved (and downloaded) anew on every run.
func TestBuiltinKernelsFile(t *testing.T) {
	cfg, err := LoadConfig(BuiltinKernelsFile)
	if err != nil {
		t.Fatal(err)
	}
	disk, err := LoadConfig(filepath.Join("..", "kernels.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(cfg.Names(), ","), strings.Join(disk.Names(), ","); got != want {
		t.Errorf("built-in kernels %s, kernels.yaml lists %s", got, want)
	}
	if !cfg.Builtin() || disk.Builtin() {
		t.Errorf("Builtin() = %v for the built-in file, %v for kernels.yaml", cfg.Builtin(), disk.Builtin())
	}
	if cfg.LockPath() != BuiltinLockFile {
		t.Fatalf("LockPath() = %q, want %q", cfg.LockPath(), BuiltinLockFile)
	}
	lock, err := LoadLock(cfg.LockPath())
	if err != nil {
		t.Fatal(err)
	}
	diskLock, err := LoadLock(filepath.Join("..", "kernels.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if string(lock.Marshal()) != string(diskLock.Marshal()) {
		t.Error("the built-in kernels.lock differs from the repository's")
	}
	for _, e := range cfg.Entries {
		if le := lock.Find(e.Name); le == nil || le.Source != e.Source.Spec() {
			t.Errorf("kernel %s is not pinned in the built-in kernels.lock", e.Name)
		}
	}
}

func TestDefaultKernelsFile(t *testing.T) {
	t.Chdir(t.TempDir())
	if got := DefaultKernelsFile(); got != BuiltinKernelsFile {
		t.Errorf("without kernels.yaml: %q, want %q", got, BuiltinKernelsFile)
	}
	if err := os.WriteFile("kernels.yaml", []byte("kernels: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := DefaultKernelsFile(); got != "kernels.yaml" {
		t.Errorf("with kernels.yaml: %q, want kernels.yaml", got)
	}
}

// TestBuiltinLockReadOnly checks that nothing writes the built-in lock: Write refuses, a fetch
// skips it, and --update is refused before anything is fetched.
func TestBuiltinLockReadOnly(t *testing.T) {
	lock, err := LoadLock(BuiltinLockFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := lock.Write(); !errors.Is(err, ErrReadOnlyLock) {
		t.Errorf("Write() = %v, want ErrReadOnlyLock", err)
	}
	cfg, err := LoadConfig(BuiltinKernelsFile)
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	f := &Fetcher{CacheDir: cache, Update: true, Getenv: func(string) string { return "" }}
	images, err := f.Fetch(context.Background(), cfg.Entries[:1])
	if !errors.Is(err, ErrReadOnlyLock) || len(images) != 0 || !strings.Contains(err.Error(), "kernels.yaml") {
		t.Errorf("Fetch --update of the built-in file = %d images, %v; want ErrReadOnlyLock naming kernels.yaml", len(images), err)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Errorf("Fetch --update of the built-in file left %d entries in the cache", len(ents))
	}
	run := &fetchRun{f: &Fetcher{}, cache: imageCache{dir: cache}, lock: lock}
	pin := lock.Entries[0]
	pin.Version = "0.0.1"
	if err := run.writeLock(cfg.Entries, []LockEntry{pin}); err != nil {
		t.Errorf("writeLock with the built-in lock: %v", err)
	}
	if again, _ := LoadLock(BuiltinLockFile); string(again.Marshal()) != string(lock.Marshal()) {
		t.Error("writeLock changed the built-in lock")
	}
}

// TestBuiltinFetchCached fetches a kernel of the built-in file whose pinned image is in the
// user's cache (5.10, which CI boots: see cachedBuiltin), without the network: the images come
// back and no lock is written. The cache is only read (its images directory is linked into a
// temporary cache).
func TestBuiltinFetchCached(t *testing.T) {
	real, st := cachedBuiltin(t, "5.10")
	cfg, err := LoadConfig(BuiltinKernelsFile)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := cfg.Select([]string{"5.10"})
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	if err := os.Symlink(filepath.Join(real, "images"), filepath.Join(cache, "images")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	var log strings.Builder
	images, err := (&Fetcher{CacheDir: cache, Progress: &log}).Fetch(context.Background(), entries)
	if err != nil || len(images) != 1 || images[0].SHA256 != st.Locked.SHA256 {
		t.Fatalf("Fetch = %+v, %v\n%s", images, err, log.String())
	}
	if ents, _ := os.ReadDir("."); len(ents) != 0 {
		t.Errorf("Fetch wrote %d files in the current directory", len(ents))
	}
}
