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
	"syscall"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
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
	testenv.WriteFile(t, vmlinuz, []byte("damaged"))
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

// hostileNodes makes in dir a character device like /dev/zero ("zero"), a FIFO ("fifo") and a
// directory ("dir"), none of them a file the tool may read, and returns their paths.
func hostileNodes(t *testing.T, dir string) (zero, fifo, sub string) {
	t.Helper()
	p := testenv.Nodes(t, dir, "zero", "fifo", "dir")
	return p[0], p[1], p[2]
}

// TestFaultKernelsFilesNotRegular: kernels.yaml or kernels.lock as a FIFO (which blocked the
// read until Ctrl-C) or a link to a device like /dev/zero (which grew memory until the runtime
// died) is refused at once, naming the path and what it is.
func TestFaultKernelsFilesNotRegular(t *testing.T) {
	dir := t.TempDir()
	zero, fifo, sub := hostileNodes(t, dir)
	link := filepath.Join(dir, "kernels.yaml")
	if err := os.Symlink(zero, link); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{link, "a character device"}, {fifo, "a named pipe"}, {sub, "a directory"},
	} {
		for what, load := range map[string]func() error{
			"LoadConfig": func() error { _, err := LoadConfig(tt.path); return err },
			"LoadLock":   func() error { _, err := LoadLock(tt.path); return err },
		} {
			err := testenv.Within(t, what+" "+tt.path, 5*time.Second, load)
			if !errors.Is(err, files.ErrRefused) || !strings.Contains(err.Error(), tt.path+": not a regular file ("+tt.want+")") {
				t.Errorf("%s(%s): %v, want a refusal saying it is %s", what, tt.path, err, tt.want)
			}
		}
	}
}

// TestFaultPathImageNotRegular: a path entry naming a device like /dev/zero made verify spin
// for ten minutes, hashing it. Entry.CheckFiles refuses it (and a FIFO, a directory, a config
// that is one) naming the kernel, its line and the path, and a fetch fails at once.
func TestFaultPathImageNotRegular(t *testing.T) {
	dir := t.TempDir()
	zero, fifo, sub := hostileNodes(t, dir)
	writeFile(t, filepath.Join(dir, "bzImage"), string(fakeBzImage("6.13.0", "one")))
	kfile := filepath.Join(dir, "kernels.yaml")
	for _, tt := range []struct{ entry, key, path, want string }{
		{"path: zero", "image", zero, "a character device"},
		{"path: fifo", "image", fifo, "a named pipe"},
		{"path: dir", "image", sub, "a directory"},
		{"path: {image: bzImage, config: zero}", "config", zero, "a character device"},
	} {
		writeFile(t, kfile, "kernels:\n  - name: mine\n    "+tt.entry+"\n")
		cfg, err := LoadConfig(kfile)
		if err != nil {
			t.Fatal(err)
		}
		want := "kernel mine (" + kfile + ":2): " + tt.key + ": " + tt.path + ": not a regular file (" + tt.want + ")"
		if err := cfg.Entries[0].CheckFiles(); !errors.Is(err, files.ErrRefused) || err.Error() != want {
			t.Errorf("%s: CheckFiles: %v, want %q", tt.entry, err, want)
		}
		fetch := func() error {
			_, err := (&Fetcher{CacheDir: filepath.Join(dir, "cache")}).Fetch(context.Background(), cfg.Entries)
			return err
		}
		if err := testenv.Within(t, "Fetch "+tt.entry, 5*time.Second, fetch); err == nil || !strings.Contains(err.Error(), "kernel mine") || !strings.Contains(err.Error(), tt.path+": not a regular file") {
			t.Errorf("%s: Fetch: %v", tt.entry, err)
		}
	}
	writeFile(t, kfile, "kernels:\n  - name: mine\n    path: {image: bzImage, config: missing}\n")
	if cfg, err := LoadConfig(kfile); err != nil || cfg.Entries[0].CheckFiles() != nil {
		t.Errorf("a regular image and a missing config (left to the fetch): %v", err)
	}
}

// fakeAptScript stands in for apt-get so that the apt driver's reaction to apt's failures can be
// tested without an archive. FAKE_APT_UPDATE chooses what "update" does: "partial" (one suite
// fetched, another failing with an E: line and exit 100, as a security mirror that is down or a
// full disk produces), "nospace" (the same with apt's ENOSPC message), "hang" (apt-get waiting
// forever), "fillhang" (filling the disk and then waiting forever, as apt-get was seen doing on a
// full tmpfs), "tmpfail" (leaving a temporary file in $TMPDIR and failing, as apt's signature
// check does when it dies) or "ok". With FAKE_APT_LOG set, each call appends its subcommand there;
// FAKE_APT_SLOW makes downloads take a second. "indextargets" lists the Packages files
// in the lists directory; "download" copies $FAKE_APT_DEBS/<pkg>_<version>_amd64.deb.
const fakeAptScript = `#!/bin/sh
lists=
while [ $# -gt 0 ]; do
	case "$1" in
	-o) case "$2" in Dir::State::Lists=*) lists=${2#Dir::State::Lists=} ;; esac; shift 2 ;;
	*) break ;;
	esac
done
sub=$1; shift
[ -n "$FAKE_APT_LOG" ] && echo "$sub" >> "$FAKE_APT_LOG"
case "$sub" in
update)
	case "$FAKE_APT_UPDATE" in
	hang) echo "Get:1 http://archive.invalid/debian bullseye InRelease"; sleep 600 ;;
	fillhang)
		echo "Get:1 http://archive.invalid/debian bullseye InRelease"
		dd if=/dev/zero of="$lists/partial/fill" bs=65536 2>/dev/null
		sleep 600 ;;
	tmpfail)
		# apt's signature check leaves its temporary files when it is killed or fails.
		mktemp "${TMPDIR:-/tmp}/apt.sig.XXXXXX" >/dev/null
		echo "Err:1 http://archive.invalid/debian bullseye InRelease"
		echo "E: Failed to fetch http://archive.invalid/debian/dists/bullseye/InRelease"
		exit 100 ;;
	nospace)
		echo "Get:1 http://archive.invalid/debian bullseye InRelease"
		echo "E: Write error - write (28: No space left on device)"
		exit 100 ;;
	*)
		mkdir -p "$lists"
		cp "$FAKE_APT_INDEX" "$lists/bullseye_Packages"
		echo "Get:1 http://archive.invalid/debian bullseye InRelease"
		if [ "$FAKE_APT_UPDATE" = partial ]; then
			echo "Err:2 http://security.invalid/debian-security bullseye-security InRelease"
			echo "E: Failed to fetch http://security.invalid/debian-security/dists/bullseye-security/InRelease  500  Internal Server Error"
			exit 100
		fi ;;
	esac ;;
indextargets)
	for f in "$lists"/*_Packages; do
		[ -e "$f" ] && printf '%s\t%s\n' "$f" "$(basename "$f" _Packages)"
	done ;;
download)
	pkg=${1%%=*}; ver=${1#*=}
	[ -n "$FAKE_APT_SLOW" ] && sleep 1
	cp "$FAKE_APT_DEBS/${pkg}_${ver}_amd64.deb" . || { echo "E: Unable to locate package $pkg"; exit 100; } ;;
*) echo "fake apt-get: $sub not faked" >&2; exit 1 ;;
esac
`

// fakeApt puts a fake apt-get and apt-config first on PATH and returns a Fetcher whose archive
// comes from the environment overrides, so that nothing reads the machine's apt configuration.
func fakeApt(t *testing.T, updateMode string) *Fetcher {
	t.Helper()
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "apt-get"), fakeAptScript)
	writeFile(t, filepath.Join(bin, "apt-config"), "#!/bin/sh\necho 'Acquire::Retries \"0\";'\n")
	for _, f := range []string{"apt-get", "apt-config"} {
		if err := os.Chmod(filepath.Join(bin, f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_APT_UPDATE", updateMode)
	t.Setenv("FAKE_APT_INDEX", filepath.Join(mustAbs(t, "testdata"), "index", "bullseye.Packages"))
	keyring := filepath.Join(t.TempDir(), "keyring.gpg")
	writeFile(t, keyring, "")
	env := map[string]string{
		EnvDebianMirror:         "http://archive.invalid/debian",
		EnvDebianSecurityMirror: "http://security.invalid/debian-security",
		EnvDebianKeyring:        keyring,
	}
	return &Fetcher{
		CacheDir:       t.TempDir(),
		Getenv:         func(k string) string { return env[k] },
		AptSourcesList: filepath.Join(t.TempDir(), "none.list"),
		AptSourceParts: filepath.Join(t.TempDir(), "none.d"),
		Progress:       testWriter{t},
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// fetchWithin runs Fetch on a one-kernel kernels file and fails the test, instead of hanging it,
// when Fetch has not returned after limit: the bugs these tests guard against are hangs.
func fetchWithin(t *testing.T, ctx context.Context, f *Fetcher, limit time.Duration) ([]Image, error) {
	t.Helper()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "kernels.yaml", "kernels:\n  - name: \"5.10\"\n    debian: {series: \"5.10\"}\n  - name: \"5.10-old\"\n    debian: {series: \"5.10\", version: \"5.10.223\"}\n")
	var imgs []Image
	err := testenv.Within(t, "Fetch (it hangs)", limit, func() (err error) {
		imgs, err = f.Fetch(ctx, cfg.Entries)
		return err
	})
	return imgs, err
}

// TestFaultAptPartialUpdate is the bug report's hang: apt-get update fetched one suite
// and failed another, and update, holding the apt lock, asked for the index files through a path
// that takes the same lock again.
func TestFaultAptPartialUpdate(t *testing.T) {
	f := fakeApt(t, "partial")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f.Parallel = 2
	_, err := fetchWithin(t, ctx, f, 20*time.Second)
	// The fake index holds the kernels, but the fake apt has no packages to download.
	if err == nil || !strings.Contains(err.Error(), "download linux-image-5.10.0-") {
		t.Errorf("error = %v, want the download to fail after a usable update", err)
	}
}

// TestFaultFetchCancel cancels a fetch whose apt-get update never finishes while a second
// kernel waits for the same package index: both must end promptly.
func TestFaultFetchCancel(t *testing.T) {
	f := fakeApt(t, "hang")
	f.Parallel = 2
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	_, err := fetchWithin(t, ctx, f, 15*time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Fetch took %v after cancellation", d)
	}
}

// TestFaultFetchCacheFullMessage checks that apt's ENOSPC message becomes an error naming the cache
// directory rather than a list of apt lines.
func TestFaultFetchCacheFullMessage(t *testing.T) {
	f := fakeApt(t, "nospace")
	_, err := fetchWithin(t, context.Background(), f, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "cache directory "+f.CacheDir+" is full") {
		t.Errorf("error = %v, want it to name the full cache directory %s", err, f.CacheDir)
	}
}

// TestFaultFetchCacheFillsUp is the bug report's 5 MB tmpfs: apt-get fills the cache's file system and
// then waits forever. The fetch must end with an error naming the cache directory. Mounting the
// small file system needs root.
func TestFaultFetchCacheFillsUp(t *testing.T) {
	f := fakeApt(t, "fillhang")
	mountTmpfs(t, f.CacheDir, "2m")
	start := time.Now()
	_, err := fetchWithin(t, context.Background(), f, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "cache directory "+f.CacheDir+" is full") || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("error = %v, want it to name the full cache directory %s", err, f.CacheDir)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Fetch took %v to notice the full cache", d)
	}
}

// TestListsFreshPerSources checks that lists refreshed for one mirror do not count as fresh for
// another, even after the private configuration for the new mirror has been written (which a
// pinned download does before any update).
func TestListsFreshPerSources(t *testing.T) {
	fakeApt(t, "ok")
	dir := filepath.Join(t.TempDir(), "apt")
	a := &apt{dir: dir, archive: DebianArchive{Mirror: "http://one.invalid/debian", Keyring: "/dev/null"}}
	if _, err := a.update(context.Background(), false, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if !a.fresh() {
		t.Fatal("lists just refreshed are not fresh")
	}
	b := &apt{dir: dir, archive: DebianArchive{Mirror: "http://two.invalid/debian", Keyring: "/dev/null"}}
	if err := b.prepareOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b.fresh() {
		t.Error("lists of another mirror count as fresh")
	}
}

// mountTmpfs mounts a tmpfs of the given size on dir for the rest of the test, skipping the test
// where that is not allowed: a real full file system is the only faithful way to test ENOSPC.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	testenv.NeedRoot(t)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Need(t, fmt.Errorf("cannot mount a tmpfs: %v: %s", err, out), "run as root where mount works")
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
}

// fillDisk writes a file into dir until its file system is full.
func fillDisk(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}
