package vmimages

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/tempdir"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// mountReadOnly makes dir a read-only bind mount of itself for the rest of the test: root writes
// through file modes, so only a read-only mount is a read-only cache for root.
func mountReadOnly(t *testing.T, dir string) {
	t.Helper()
	testenv.NeedRoot(t)
	if out, err := exec.Command("mount", "--bind", dir, dir).CombinedOutput(); err != nil {
		testenv.Need(t, fmt.Errorf("cannot bind-mount: %v: %s", err, out), "run as root where mount works")
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", dir).CombinedOutput(); err != nil {
		testenv.Need(t, fmt.Errorf("cannot remount read-only: %v: %s", err, out), "run as root where mount works")
	}
}

// TestFaultFetchReadOnlyDamagedEntry: a read-only cache holds a damaged entry. The kernel fails,
// naming the entry and why, and the message does not claim the entry was removed.
func TestFaultFetchReadOnlyDamagedEntry(t *testing.T) {
	fx := newOfflineDebianFixture(t)
	imgs, progress, err := fx.fetch(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress)
	}
	vmlinuz := imgs[0].Path
	if err := os.WriteFile(vmlinuz, []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	mountReadOnly(t, fx.cache)
	_, progress, err = fx.fetch(t)
	var fe *FetchError
	if !errors.As(err, &fe) || len(fe.Kernels) != 1 || fe.Kernels[0] != "5.10" {
		t.Fatalf("error %v, want kernel 5.10 failed\n%s", err, progress)
	}
	msg := err.Error()
	for _, want := range []string{filepath.Dir(vmlinuz), "vmlinuz: sha256", "could not be removed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg+progress, "has been removed") {
		t.Errorf("says the entry was removed:\n%s\n%s", msg, progress)
	}
	if _, err := os.Stat(vmlinuz); err != nil {
		t.Errorf("the entry is gone: %v", err)
	}
}

// TestFaultFetchCacheDirNotDirectory: a cache path that runs through a file is named as the
// cause, not reported as every kernel being "not cached"; no cache directory at all (no HOME, no
// XDG_CACHE_HOME) is the same kind of error.
func TestFaultFetchCacheDirNotDirectory(t *testing.T) {
	fx := newOfflineDebianFixture(t)
	file := filepath.Join(t.TempDir(), "cache-file")
	writeFile(t, file, "not a directory")
	fx.cache = filepath.Join(file, "bpfmatrix")
	_, _, err := fx.fetch(t)
	if !errors.Is(err, ErrCacheDir) || !strings.Contains(fmt.Sprint(err), file+" is not a directory") {
		t.Errorf("error %v, want ErrCacheDir naming %s", err, file)
	}
	t.Setenv("HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	if _, err := CheckCacheDir(""); !errors.Is(err, ErrCacheDir) {
		t.Errorf("no HOME: error %v, want ErrCacheDir", err)
	}
}

// TestFaultFetchConcurrentDownload: two fetches of the same pinned kernel into one empty cache
// at once (two `bpfmatrix run`s) update the package lists once and download the package once.
func TestFaultFetchConcurrentDownload(t *testing.T) {
	fx := newOfflineDebianFixture(t)
	debs := t.TempDir()
	if err := os.Rename(fx.deb, filepath.Join(debs, filepath.Base(fx.deb))); err != nil {
		t.Fatal(err)
	}
	f := fakeApt(t, "ok")
	log := filepath.Join(t.TempDir(), "apt.log")
	t.Setenv("FAKE_APT_LOG", log)
	t.Setenv("FAKE_APT_DEBS", debs)
	t.Setenv("FAKE_APT_SLOW", "1")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := *f
			g.CacheDir = fx.cache
			_, errs[i] = g.Fetch(context.Background(), fx.cfg.Entries)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(log)
	calls := strings.Count(string(data), "update\n")
	downloads := strings.Count(string(data), "download\n")
	if calls != 1 || downloads != 1 {
		t.Errorf("apt-get update ran %d times and download %d times, want once each:\n%s", calls, downloads, data)
	}
}

// TestFaultFetchSweepsKilledFetch: what a fetch killed with SIGKILL leaves in the cache (its
// staging directory, its apt download directory, a corrupt entry moved aside) is removed by the
// next fetch; the staging directory of a fetch still running is kept.
func TestFaultFetchSweepsKilledFetch(t *testing.T) {
	fx := newOfflineDebianFixture(t)
	images := filepath.Join(fx.cache, "images")
	debs := filepath.Join(fx.cache, "debs")
	var stale []string
	for _, d := range []struct{ parent, prefix string }{{images, stagingPrefix}, {debs, downloadPrefix}} {
		if err := os.MkdirAll(d.parent, 0o755); err != nil {
			t.Fatal(err)
		}
		// A dead owner: the directory and its lock file, with nobody holding the lock.
		dir, err := os.MkdirTemp(d.parent, d.prefix)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, tempdir.LockName), "")
		writeFile(t, filepath.Join(dir, "vmlinuz"), strings.Repeat("x", 1<<20))
		stale = append(stale, dir)
	}
	corrupt := filepath.Join(images, corruptPrefix+"abc-1")
	writeFile(t, filepath.Join(corrupt, "vmlinuz"), "x")
	stale = append(stale, corrupt)
	live, err := tempdir.New(images, stagingPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Remove()
	if _, progress, err := fx.fetch(t); err != nil {
		t.Fatalf("%v\n%s", err, progress)
	}
	for _, d := range stale {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s was not swept (%v)", d, err)
		}
	}
	if _, err := os.Stat(live.Path); err != nil {
		t.Errorf("a running fetch's staging directory was swept: %v", err)
	}
}

// TestFaultAptTempFiles: apt's temporary files of a failed update do not stay in TMPDIR, nor in
// the cache.
func TestFaultAptTempFiles(t *testing.T) {
	f := fakeApt(t, "tmpfail")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	if _, err := fetchWithin(t, context.Background(), f, 20*time.Second); err == nil {
		t.Fatal("the fetch succeeded with a failing apt-get update")
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "apt.*"))
	inCache, _ := filepath.Glob(filepath.Join(f.CacheDir, "apt", "tmp", "*", "apt.*"))
	if len(left)+len(inCache) > 0 {
		t.Errorf("apt's temporary files stayed: %v %v", left, inCache)
	}
}

// TestFaultFetchHashCancel: an image named by path that takes forever to hash (a sparse 1 TB
// file) stops at Ctrl-C: Fetch returns the context's error within a moment of the cancel.
func TestFaultFetchHashCancel(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "huge.img"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 40); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cfg := writeConfig(t, dir, "kernels.yaml", "kernels:\n  - name: huge\n    path: huge.img\n")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	fetch := func() error {
		_, err := (&Fetcher{CacheDir: t.TempDir()}).Fetch(ctx, cfg.Entries)
		return err
	}
	if err := testenv.Within(t, "Fetch past its context's end", 5*time.Second, fetch); err == nil {
		t.Error("Fetch of a 1 TB image succeeded")
	}
}
