package vmimages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// offlineDebianFixture sets up a kernels.yaml with one Debian entry, a kernels.lock pinning a
// package built by the test, and a cache holding that package: enough for an offline fetch
// that extracts the package without any network.
type offlineDebianFixture struct {
	dir, cache string
	cfg        *Config
	vmlinuz    []byte
	deb        string // the cached package
}

func newOfflineDebianFixture(t *testing.T) *offlineDebianFixture {
	t.Helper()
	return newOfflineDebianFixtureWith(t, nil)
}

// newOfflineDebianFixtureWith is newOfflineDebianFixture with extra files in the package, by
// path under lib/modules/<release>/.
func newOfflineDebianFixtureWith(t *testing.T, extra map[string][]byte) *offlineDebianFixture {
	t.Helper()
	const release = "5.10.0-99-cloud-amd64"
	const pkg, ver = "linux-image-5.10.0-99-cloud-amd64", "5.10.999-1"
	files := layoutImage(t, release, "fixture", false)
	for p, data := range extra {
		files["lib/modules/"+release+"/"+p] = data
	}
	vmlinuz := files["boot/vmlinuz-"+release]
	built := buildDeb(t, pkg, ver, files)
	fx := &offlineDebianFixture{dir: t.TempDir(), cache: t.TempDir(), vmlinuz: vmlinuz}
	fx.deb = filepath.Join(fx.cache, "debs", debFileName(pkg, ver, ""))
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(fx.deb), 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, fx.deb, data)
	debSum := sha256Bytes(data)
	vmSum := sha256Bytes(vmlinuz)
	writeFile(t, filepath.Join(fx.dir, "kernels.yaml"), "kernels:\n  - name: \"5.10\"\n    debian: {series: \"5.10\"}\n")
	lock := &Lock{Path: filepath.Join(fx.dir, "kernels.lock"), Entries: []LockEntry{{
		Name: "5.10", Source: "debian series=5.10", Version: "5.10.999", Release: release, SHA256: vmSum,
		Package: pkg, DebianVersion: ver, Suite: "bullseye-security", DebSHA256: debSum,
	}}}
	if err := lock.Write(); err != nil {
		t.Fatal(err)
	}
	fx.cfg, err = LoadConfig(filepath.Join(fx.dir, "kernels.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

func (fx *offlineDebianFixture) fetch(t *testing.T) ([]Image, string, error) {
	t.Helper()
	return fx.fetchWith(t, true)
}

// fetchWith fetches the fixture's kernel, offline or not (it is pinned and its package cached:
// nothing is downloaded either way).
func (fx *offlineDebianFixture) fetchWith(t *testing.T, offline bool) ([]Image, string, error) {
	t.Helper()
	var progress bytes.Buffer
	f := &Fetcher{CacheDir: fx.cache, Offline: offline, Progress: &progress}
	imgs, err := f.Fetch(context.Background(), fx.cfg.Entries)
	return imgs, progress.String(), err
}

func TestFetchOfflineFromCachedPackage(t *testing.T) {
	fx := newOfflineDebianFixture(t)
	imgs, progress, err := fx.fetch(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress)
	}
	img := imgs[0]
	if img.Name != "5.10" || img.Version != "5.10.999" || img.Release != "5.10.0-99-cloud-amd64" || img.Suite != "bullseye-security" || img.DebianVersion != "5.10.999-1" {
		t.Errorf("image = %+v", img)
	}
	if got, _ := os.ReadFile(img.Path); !bytes.Equal(got, fx.vmlinuz) {
		t.Error("vmlinuz differs from the packaged one")
	}
	if img.ConfigPath == "" {
		t.Error("no config")
	}
	if len(img.Modules) != 5 || !strings.HasSuffix(img.Modules[0], "/modules/kernel/drivers/virtio/virtio.ko") {
		t.Errorf("modules = %v", img.Modules)
	}
	for _, m := range img.Modules {
		if !filepath.IsAbs(m) {
			t.Errorf("module path %s is not absolute", m)
		}
	}
	if img.Path != filepath.Join(fx.cache, "images", img.SHA256, "vmlinuz") {
		t.Errorf("image path %s is not keyed by its sha256", img.Path)
	}
}

// TestFetchDetectsCorruptCache damages a cached entry in the ways a crash or a full disk would,
// and checks that the next fetch notices and rebuilds the entry.
func TestFetchDetectsCorruptCache(t *testing.T) {
	damages := []struct {
		name   string
		damage func(img Image) error
	}{
		{"truncated vmlinuz", func(img Image) error { return os.Truncate(img.Path, 100) }},
		{"empty vmlinuz", func(img Image) error { return os.WriteFile(img.Path, nil, 0o644) }},
		{"changed config", func(img Image) error { return os.WriteFile(img.ConfigPath, []byte("CONFIG_X=y\n"), 0o644) }},
		{"truncated module", func(img Image) error { return os.Truncate(img.Modules[2], 10) }},
		{"missing module", func(img Image) error { return os.Remove(img.Modules[0]) }},
		{"no manifest (half-written)", func(img Image) error { return os.Remove(filepath.Join(filepath.Dir(img.Path), "manifest.json")) }},
		{"same size and times, other bytes", func(img Image) error {
			// The stamps file lets a verified entry skip re-hashing; a rewrite that keeps the
			// size and the modification time still changes the change time.
			st, err := os.Stat(img.Path)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(img.Path)
			if err != nil {
				return err
			}
			data[len(data)/2] ^= 0xff
			if err := os.WriteFile(img.Path, data, 0o644); err != nil {
				return err
			}
			return os.Chtimes(img.Path, st.ModTime(), st.ModTime())
		}},
		{"garbled manifest", func(img Image) error {
			return os.WriteFile(filepath.Join(filepath.Dir(img.Path), "manifest.json"), []byte("{"), 0o644)
		}},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			fx := newOfflineDebianFixture(t)
			imgs, progress, err := fx.fetch(t)
			if err != nil {
				t.Fatalf("%v\n%s", err, progress)
			}
			if err := d.damage(imgs[0]); err != nil {
				t.Fatal(err)
			}
			if err := (imageCache{dir: fx.cache}).Status(imgs[0].SHA256); err == nil {
				t.Fatal("Status does not notice the damage")
			}
			imgs2, progress, err := fx.fetch(t)
			if err != nil {
				t.Fatalf("refetch: %v\n%s", err, progress)
			}
			if !strings.Contains(progress, "was invalid and has been removed") {
				t.Errorf("progress does not report the corrupt entry:\n%s", progress)
			}
			if got, _ := os.ReadFile(imgs2[0].Path); !bytes.Equal(got, fx.vmlinuz) {
				t.Error("vmlinuz not restored")
			}
			if err := (imageCache{dir: fx.cache}).Status(imgs2[0].SHA256); err != nil {
				t.Errorf("entry still invalid after refetch: %v", err)
			}
			// A third fetch is a plain cache hit.
			_, progress, err = fx.fetch(t)
			if err != nil || !strings.Contains(progress, "cached image verified") {
				t.Errorf("third fetch: %v\n%s", err, progress)
			}
		})
	}
}

func TestFetchOfflineErrors(t *testing.T) {
	t.Run("damaged package", func(t *testing.T) {
		fx := newOfflineDebianFixture(t)
		if err := os.Truncate(fx.deb, 1000); err != nil {
			t.Fatal(err)
		}
		_, progress, err := fx.fetch(t)
		var fe *FetchError
		if !errors.As(err, &fe) || fe.Kernels[0] != "5.10" || !strings.Contains(err.Error(), "kernel 5.10: package linux-image-5.10.0-99-cloud-amd64=5.10.999-1 is not cached and --offline forbids downloading it") {
			t.Errorf("error = %v", err)
		}
		if !strings.Contains(progress, "is damaged") {
			t.Errorf("progress does not report the damaged package:\n%s", progress)
		}
	})
	t.Run("not pinned", func(t *testing.T) {
		fx := newOfflineDebianFixture(t)
		cfg := writeConfig(t, fx.dir, "kernels.yaml", "kernels:\n  - name: \"5.10\"\n    debian: {series: \"5.10\"}\n  - name: \"7.3\"\n    debian: {series: \"7.3\"}\n  - name: \"7.2\"\n    debian: {series: \"7.2\"}\n")
		imgs, err := (&Fetcher{CacheDir: fx.cache, Offline: true}).Fetch(context.Background(), cfg.Entries)
		if len(imgs) != 1 || imgs[0].Name != "5.10" {
			t.Errorf("images = %v, want the pinned 5.10 only", imgs)
		}
		// Same reason, one line naming both kernels.
		if err == nil || !strings.Contains(err.Error(), "kernels 7.3, 7.2: not pinned in kernels.lock") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("edited entry", func(t *testing.T) {
		fx := newOfflineDebianFixture(t)
		writeFile(t, filepath.Join(fx.dir, "kernels.yaml"), "kernels:\n  - name: \"5.10\"\n    debian: {series: \"5.10\", version: \"5.10.223\"}\n")
		cfg, _ := LoadConfig(filepath.Join(fx.dir, "kernels.yaml"))
		var progress bytes.Buffer
		_, err := (&Fetcher{CacheDir: fx.cache, Offline: true, Progress: &progress}).Fetch(context.Background(), cfg.Entries)
		if err == nil || !strings.Contains(progress.String(), `kernels.yaml now says "debian series=5.10 version=5.10.223"`) {
			t.Errorf("error = %v, progress:\n%s", err, progress.String())
		}
	})
	t.Run("bad lock file", func(t *testing.T) {
		fx := newOfflineDebianFixture(t)
		writeFile(t, filepath.Join(fx.dir, "kernels.lock"), "kernels:\n  - name: x\n    bogus: 1\n")
		_, err := (&Fetcher{CacheDir: fx.cache, Offline: true}).Fetch(context.Background(), fx.cfg.Entries)
		var fe *FetchError
		if err == nil || errors.As(err, &fe) || !strings.Contains(err.Error(), `kernels.lock:3: unknown key "bogus"`) {
			t.Errorf("error = %v, want a plain error naming the lock line", err)
		}
	})
}

// TestFaultFetchExtractCacheFull extracts a cached package into a cache whose file system is full:
// the error must name the cache directory, not just say "no space left on device".
func TestFaultFetchExtractCacheFull(t *testing.T) {
	fx := newOfflineDebianFixture(t)
	deb, err := os.ReadFile(fx.deb)
	if err != nil {
		t.Fatal(err)
	}
	mountTmpfs(t, fx.cache, "1m")
	fx.deb = filepath.Join(fx.cache, "debs", filepath.Base(fx.deb))
	writeFile(t, fx.deb, string(deb))
	fillDisk(t, fx.cache)
	_, progress, err := fx.fetch(t)
	if err == nil || !strings.Contains(err.Error(), "kernel 5.10: cache directory "+fx.cache+" is full") {
		t.Errorf("error = %v, want it to name the full cache directory %s\n%s", err, fx.cache, progress)
	}
}

func TestFetchPathSource(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	image := filepath.Join(dir, "build", "bzImage")
	writeFile(t, image, string(fakeBzImage("6.13.0-rc1+", "one")))
	writeFile(t, filepath.Join(dir, "build", ".config"), "CONFIG_BPF_LSM=y\n")
	cfg := writeConfig(t, dir, "kernels.yaml", "kernels:\n  - name: mine\n    path: {image: build/bzImage, config: build/.config}\n")
	fetch := func(update bool) ([]Image, error) {
		return (&Fetcher{CacheDir: cache, Update: update}).Fetch(context.Background(), cfg.Entries)
	}
	imgs, err := fetch(false)
	if err != nil {
		t.Fatal(err)
	}
	if imgs[0].Release != "6.13.0-rc1+" || imgs[0].Version != "6.13.0" || imgs[0].ConfigPath == "" || imgs[0].Package != "" {
		t.Errorf("image = %+v", imgs[0])
	}
	lock, err := LoadLock(filepath.Join(dir, "kernels.lock"))
	if err != nil || lock.Find("mine") == nil || lock.Find("mine").SHA256 != imgs[0].SHA256 {
		t.Fatalf("lock = %+v, %v", lock, err)
	}

	// A rebuilt image is refused until --update.
	writeFile(t, image, string(fakeBzImage("6.13.0-rc2+", "two")))
	if _, err := fetch(false); err == nil || !strings.Contains(err.Error(), "kernel mine: ") || !strings.Contains(err.Error(), "changed since kernels.lock pinned it") || !strings.Contains(err.Error(), "fetch --update mine") {
		t.Errorf("error = %v", err)
	}
	imgs, err = fetch(true)
	if err != nil || imgs[0].Release != "6.13.0-rc2+" {
		t.Fatalf("update: %v %+v", err, imgs)
	}
	lock, _ = LoadLock(filepath.Join(dir, "kernels.lock"))
	if lock.Find("mine").Release != "6.13.0-rc2+" {
		t.Errorf("lock not moved: %+v", lock.Find("mine"))
	}

	// Not a bzImage.
	writeFile(t, image, "not a kernel")
	if _, err := fetch(true); err == nil || !strings.Contains(err.Error(), "is not an x86 bzImage") {
		t.Errorf("error = %v", err)
	}
	os.Remove(image)
	if _, err := fetch(true); err == nil || !strings.Contains(err.Error(), "kernel mine: kernel image:") {
		t.Errorf("error = %v", err)
	}
}

func TestFetchErrorGrouping(t *testing.T) {
	e := &FetchError{Kernels: []string{"5.10", "6.1", "7.3"}, Errs: []error{errors.New("no archive"), errors.New("no archive"), ErrNotInIndex}}
	want := "kernels 5.10, 6.1: no archive\nkernel 7.3: " + ErrNotInIndex.Error()
	if e.Error() != want {
		t.Errorf("got %q, want %q", e.Error(), want)
	}
	if !errors.Is(e, ErrNotInIndex) {
		t.Error("errors.Is does not see the per-kernel error")
	}
}

// writeConfig writes a kernels file called name into dir and loads it, as the tests that fetch
// from a kernels file of their own all start.
func writeConfig(t *testing.T, dir, name, content string) *Config {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile(t, path, content)
	return testenv.Must(LoadConfig(path))(t)
}

// noArchiveFetcher is a Fetcher on a machine whose apt knows no Debian archive (an Ubuntu
// runner's sources) and whose environment names none.
func noArchiveFetcher(t *testing.T) *Fetcher {
	return &Fetcher{
		CacheDir:       t.TempDir(),
		Getenv:         func(string) string { return "" },
		AptSourcesList: filepath.Join("testdata", "apt-ubuntu", "sources.list"),
		AptSourceParts: filepath.Join("testdata", "apt-ubuntu", "sources.list.d"),
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, path, []byte(content))
}

// TestFetchWithoutDebianArchive is the Ubuntu runner case: apt knows no Debian archive and the
// environment names none, so every Debian kernel fails with instructions, reported once.
func TestFetchWithoutDebianArchive(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "kernels.yaml", "kernels:\n  - name: \"5.10\"\n    debian: {series: \"5.10\"}\n  - name: \"7.3\"\n    debian: {series: \"7.3\"}\n")
	f := noArchiveFetcher(t)
	imgs, err := f.Fetch(context.Background(), cfg.Entries)
	if len(imgs) != 0 || err == nil {
		t.Fatalf("images %v, error %v", imgs, err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "kernels 5.10, 7.3: no Debian archive found") || strings.Count(msg, "\n") != 0 ||
		!strings.Contains(msg, EnvDebianMirror) || !strings.Contains(msg, "debian-archive-keyring") {
		t.Errorf("error = %q", msg)
	}
	if _, err := os.Stat(filepath.Join(dir, "kernels.lock")); err == nil {
		t.Error("a failed fetch wrote kernels.lock")
	}
}

// TestFaultFetchKeepsPins fetches from an alternate kernels file that shares kernels.lock
// with kernels.yaml: the lock must gain the pin of the kernel fetched and keep every other pin,
// those of kernels the file does not list and that of the kernel whose fetch failed.
func TestFaultFetchKeepsPins(t *testing.T) {
	dir := t.TempDir()
	pin := func(name, series string, sum string) LockEntry {
		return LockEntry{Name: name, Source: "debian series=" + series, Version: series + ".1", Release: series + ".0-1-cloud-amd64", SHA256: sum,
			Package: "linux-image-" + series + ".0-1-cloud-amd64", DebianVersion: series + ".1-1", Suite: "trixie", DebSHA256: sumB}
	}
	lock := &Lock{Path: filepath.Join(dir, "kernels.lock"), Entries: []LockEntry{pin("5.10", "5.10", sumA), pin("6.1", "6.1", sumB), pin("7.3", "7.3", sumA)}}
	if err := lock.Write(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "build", "bzImage"), string(fakeBzImage("6.13.0-rc1+", "mine")))
	cfg := writeConfig(t, dir, "k.yaml", "kernels:\n  - name: \"5.10\"\n    debian: {series: \"5.10\"}\n  - name: mine\n    path: build/bzImage\n")
	// No Debian archive: the pinned 5.10 is not cached and cannot be downloaded, so it fails.
	f := noArchiveFetcher(t)
	for _, entries := range [][]Entry{cfg.Entries, cfg.Entries[:1]} {
		imgs, err := f.Fetch(context.Background(), entries)
		var fe *FetchError
		if !errors.As(err, &fe) || len(fe.Kernels) != 1 || fe.Kernels[0] != "5.10" {
			t.Fatalf("error = %v, want 5.10 to fail", err)
		}
		got, lerr := LoadLock(lock.Path)
		if lerr != nil {
			t.Fatal(lerr)
		}
		var names []string
		for _, e := range got.Entries {
			names = append(names, e.Name)
		}
		if strings.Join(names, " ") != "5.10 mine 6.1 7.3" {
			t.Errorf("after fetching %d entries, kernels.lock pins %v, want 5.10 mine 6.1 7.3", len(entries), names)
		}
		if le := got.Find("5.10"); le == nil || le.SHA256 != sumA || le.Package != "linux-image-5.10.0-1-cloud-amd64" {
			t.Errorf("the failed kernel's pin changed: %+v", le)
		}
		if le := got.Find("mine"); len(imgs) > 0 && (le == nil || le.SHA256 != imgs[0].SHA256) {
			t.Errorf("mine pinned as %+v, fetched %+v", le, imgs)
		}
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

// TestFetchUpgradesStaleEntry checks that an entry cached before the kfunc modules were
// extracted is extracted again, from its cached package, by the next fetch that may go online,
// without the user asking; offline, or without the package, the old entry serves.
func TestFetchUpgradesStaleEntry(t *testing.T) {
	fx := newOfflineDebianFixtureWith(t, map[string][]byte{"kernel/net/ipv4/tcp_bbr.ko": fakeKfuncModule("tcp_bbr", "")})
	imgs, progress, err := fx.fetch(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress)
	}
	if len(imgs[0].KfuncModules) != 1 || !strings.HasSuffix(imgs[0].KfuncModules[0], "/modules/kernel/net/ipv4/tcp_bbr.ko") {
		t.Fatalf("kfunc modules = %v", imgs[0].KfuncModules)
	}
	dir := filepath.Join(fx.cache, "images", imgs[0].SHA256)
	debData := testenv.Must(os.ReadFile(fx.deb))(t)
	tests := []struct {
		name    string
		offline bool
		noDeb   bool
		want    int // kfunc modules after the fetch
		say     string
	}{
		{"offline", true, false, 0, "not extracted again"},
		{"package gone", false, true, 0, "not extracted again"},
		{"online", false, false, 1, "predates the kfunc modules"},
	}
	for _, tt := range tests {
		makeStale(t, dir)
		os.Remove(fx.deb)
		if !tt.noDeb {
			writeFile(t, fx.deb, string(debData))
		}
		imgs, progress, err := fx.fetchWith(t, tt.offline)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tt.name, err, progress)
		}
		if !strings.Contains(progress, tt.say) || len(imgs[0].KfuncModules) != tt.want {
			t.Errorf("%s: kfunc modules %v, progress:\n%s", tt.name, imgs[0].KfuncModules, progress)
		}
	}
	if _, progress, _ = fx.fetchWith(t, false); strings.Contains(progress, "kfunc modules") {
		t.Errorf("upgraded entry extracted once more:\n%s", progress)
	}
}

// makeStale rewrites an entry's manifest as an older bpfmatrix wrote it: no layout, no kfunc
// modules.
func makeStale(t *testing.T, dir string) {
	t.Helper()
	var m map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "layout")
	delete(m, "kfunc_modules")
	data, _ = json.Marshal(m)
	writeFile(t, filepath.Join(dir, "manifest.json"), string(data))
}
