package vmimages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// Image is a kernel ready to boot: every path is inside the cache and was checked against its
// recorded sha256 when the Image was returned.
type Image struct {
	Name          string           // the kernels.yaml name (6.12, mybuild)
	Arch          observation.Arch // the architecture the kernel is built for
	Source        string           // the source spec ("debian series=6.12", "path ./bzImage")
	Package       string           // Debian package holding vmlinuz; empty for local images
	Version       string           // upstream kernel version (6.12.117)
	DebianVersion string           // Debian package version (6.12.117-1); empty for local images
	Release       string           // what uname -r says in the guest (6.12.117+deb13-cloud-amd64)
	Suite         string           // Debian suite the package came from
	SHA256        string           // of vmlinuz
	Path          string           // vmlinuz
	ConfigPath    string           // the kernel's .config; empty when the source has none
	Modules       []string         // virtio modules when the kernel builds them as modules, in load order
	// KfuncModules are the modules the image ships that register kfuncs, with their
	// dependencies, in load order (to load after Modules).
	KfuncModules []string
}

// Step is one progress event of a fetch.
type Step struct {
	Kernel  string // empty for steps that concern every kernel (updating the package index)
	Message string
	Done    bool  // the kernel is finished; Err tells whether it failed
	Err     error // set when Done and the kernel failed
}

// Fetcher resolves kernels.yaml entries to images in the cache.
type Fetcher struct {
	// CacheDir holds images, downloaded packages and the private apt state; empty means
	// DefaultCacheDir().
	CacheDir string
	// LockPath overrides where kernels.lock is read and written; empty means next to the entries'
	// kernels.yaml.
	LockPath string
	// Offline forbids any download: kernels must be pinned in kernels.lock and their image (or
	// package) cached, or they fail with an error naming them.
	Offline bool
	// Arch is the architecture of the builds to fetch; empty means amd64. Every entry given to
	// Fetch must list it in its arch key (Config.SelectArch picks such entries).
	Arch observation.Arch
	// Update re-resolves every fetched kernel (newest package of its series, current local image)
	// and moves its pin in kernels.lock.
	Update bool
	// Progress, when set, receives one plain line per step.
	Progress io.Writer
	// OnStep, when set, receives every step (for a live display).
	OnStep func(Step)
	// OnImage, when set, receives each image as soon as it is ready, from the goroutine that
	// fetched it and before Fetch returns: a caller can boot it while others still download.
	OnImage func(Image)
	// Parallel is how many kernels are processed at once; 0 means the number of CPUs, at most 4.
	// Downloads share the network; extraction (xz decompression) is what uses the CPUs.
	Parallel int
	// Getenv reads the mirror overrides; nil means os.Getenv.
	Getenv func(string) string
	// AptSourcesList and AptSourceParts are the apt configuration the Debian archive address is
	// taken from; empty means /etc/apt/sources.list and /etc/apt/sources.list.d.
	AptSourcesList, AptSourceParts string
}

// FetchError reports the kernels that could not be fetched; the others were fetched.
type FetchError struct {
	Kernels []string // in kernels.yaml order
	Errs    []error  // Errs[i] is why Kernels[i] failed
}

// Error lists each failed kernel with its reason, grouping kernels that failed for the same
// reason (no Debian archive configured, say) into one line.
func (e *FetchError) Error() string {
	var order []string
	groups := map[string][]string{}
	for i, k := range e.Kernels {
		msg := e.Errs[i].Error()
		if _, ok := groups[msg]; !ok {
			order = append(order, msg)
		}
		groups[msg] = append(groups[msg], k)
	}
	var b strings.Builder
	for i, msg := range order {
		if i > 0 {
			b.WriteString("\n")
		}
		word := "kernel"
		if len(groups[msg]) > 1 {
			word = "kernels"
		}
		fmt.Fprintf(&b, "%s %s: %s", word, strings.Join(groups[msg], ", "), msg)
	}
	return b.String()
}

// Unwrap exposes the per-kernel errors to errors.Is and errors.As.
func (e *FetchError) Unwrap() []error { return e.Errs }

// Fetch makes every entry's image available and returns the images that succeeded, in entry
// order. kernels.lock is read first and afterwards gets the pins of the kernels fetched now;
// every other pin stays as it was, including those of kernels that failed and of kernels the
// entries' file does not list (another kernels file may share the lock). When some kernels fail,
// the error is a *FetchError naming each of them, and the images of the others are still
// returned.
func (f *Fetcher) Fetch(ctx context.Context, entries []Entry) ([]Image, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	run, err := f.newRun(entries)
	if err != nil {
		return nil, err
	}
	if f.Update && run.lock.Builtin() {
		// Refused before anything is fetched: moving pins that cannot be written would resolve
		// and download the newest builds only to forget them.
		return nil, fmt.Errorf("update: %w: these kernels come from the kernels file built into bpfmatrix; "+
			"to move pins, run it where a kernels.yaml is (a clone of the repository) or name one with --kernels-file", ErrReadOnlyLock)
	}
	// What fetches killed before (SIGKILL, the OOM killer) left in the cache goes first.
	run.cache.sweep()
	results := run.fetchAll(ctx, entries)

	var images []Image
	var pins []LockEntry
	fe := &FetchError{}
	for i, r := range results {
		if r.err != nil {
			fe.Kernels = append(fe.Kernels, entries[i].Name)
			fe.Errs = append(fe.Errs, r.err)
			continue
		}
		images = append(images, r.img)
		pins = append(pins, r.lock)
	}
	if !f.Offline {
		if err := run.writeLock(entries, pins); err != nil {
			fe.Kernels = append(fe.Kernels, "(all)")
			fe.Errs = append(fe.Errs, err)
		}
	}
	if len(fe.Kernels) > 0 {
		return images, fe
	}
	return images, nil
}

// fetchResult is one entry's outcome.
type fetchResult struct {
	img  Image
	lock LockEntry
	err  error
}

// fetchAll fetches the entries, f.Parallel at a time and in their order, and returns their
// outcomes in entry order.
func (r *fetchRun) fetchAll(ctx context.Context, entries []Entry) []fetchResult {
	results := make([]fetchResult, len(entries))
	parallel := r.f.Parallel
	if parallel <= 0 {
		parallel = min(runtime.NumCPU(), 4)
	}
	// Workers take the entries in their order (a caller that boots images as they come lists
	// the ones to boot first first); those left when ctx ends fail with its error.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(parallel, len(entries)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(entries); i = int(next.Add(1) - 1) {
				if err := ctx.Err(); err != nil {
					results[i].err = err
					r.step(Step{Kernel: entries[i].Name, Done: true, Err: err, Message: "failed: " + err.Error()})
					continue
				}
				results[i] = r.fetchOne(ctx, entries[i])
			}
		}()
	}
	wg.Wait()
	return results
}

// fetchOne fetches one entry, from its pin unless the pin is for another source or Update asks
// to resolve it again, and reports the outcome as a final step.
func (r *fetchRun) fetchOne(ctx context.Context, e Entry) fetchResult {
	start := time.Now()
	var locked *LockEntry
	if le := r.lock.FindArch(e.Name, r.arch); le != nil && !r.f.Update {
		if le.Source == e.Source.Spec() {
			c := *le
			locked = &c
		} else {
			r.step(Step{Kernel: e.Name, Message: fmt.Sprintf("kernels.lock pins %q, kernels.yaml now says %q: resolving again", le.Source, e.Source.Spec())})
		}
	}
	m, le, err := e.Source.fetch(ctx, r, e, locked)
	if err != nil {
		err = explainCacheFull(r.cache.dir, err)
		r.step(Step{Kernel: e.Name, Done: true, Err: err, Message: "failed: " + err.Error()})
		return fetchResult{err: err}
	}
	if a := archOrDefault(m.Arch); a != r.arch {
		// Only a path entry can meet this: its file is cached already as another entry's image.
		err := fmt.Errorf("the image (sha256 %s) is cached as an %s build, not %s", shortSum(m.SHA256), a, r.arch)
		r.step(Step{Kernel: e.Name, Done: true, Err: err, Message: "failed: " + err.Error()})
		return fetchResult{err: err}
	}
	le.Name, le.Arch = e.Name, lockArch(r.arch)
	r.step(Step{Kernel: e.Name, Done: true, Message: fmt.Sprintf("ready: %s %s sha256 %s (%.1fs)", m.Version, m.Release, shortSum(m.SHA256), time.Since(start).Seconds())})
	img := r.cache.image(e.Name, m)
	if r.f.OnImage != nil {
		r.f.OnImage(img)
	}
	return fetchResult{img: img, lock: le}
}

// fetchRun is the state one Fetch call shares between kernels.
type fetchRun struct {
	f     *Fetcher
	arch  observation.Arch // of the builds fetched: f.Arch, amd64 when that is empty
	cache imageCache
	lock  *Lock // as read when the fetch started: the pins the sources reuse

	progressMu sync.Mutex

	aptOnce sync.Once
	apt     *apt
	aptErr  error

	indexMu  ctxMutex // serializes list updates and the index load
	index    *packageIndex
	indexErr error
}

func (f *Fetcher) newRun(entries []Entry) (*fetchRun, error) {
	arch := archOrDefault(f.Arch)
	if _, err := observation.ParseArch(string(arch)); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	for _, e := range entries {
		if !e.HasArch(arch) {
			return nil, e.archError(arch)
		}
	}
	cacheDir, err := CheckCacheDir(f.CacheDir)
	if err != nil {
		return nil, err
	}
	lockPath := f.LockPath
	if lockPath == "" {
		lockPath = entries[0].lockPath()
		for _, e := range entries[1:] {
			if e.lockPath() != lockPath {
				return nil, fmt.Errorf("entries come from two kernels files (%s and %s)", entries[0].File, e.File)
			}
		}
	}
	lock, err := LoadLock(lockPath)
	if err != nil {
		return nil, err
	}
	return &fetchRun{f: f, arch: arch, cache: imageCache{dir: cacheDir}, lock: lock}, nil
}

// step reports progress to the Fetcher's writer and callback.
func (r *fetchRun) step(s Step) {
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	if r.f.Progress != nil {
		who := s.Kernel
		if who == "" {
			who = "*"
		}
		fmt.Fprintf(r.f.Progress, "%-8s %s\n", who, s.Message)
	}
	if r.f.OnStep != nil {
		r.f.OnStep(s)
	}
}

// writeLock records pins, the kernels fetched in this call, in kernels.lock and changes nothing
// else. A lock may serve several kernels files (an alternate --kernels-file next to kernels.yaml),
// so a pin this call did not make is never dropped, and a kernel that failed keeps its old pin.
// The file is read again first so that pins another process wrote meanwhile survive as well.
func (r *fetchRun) writeLock(entries []Entry, pins []LockEntry) error {
	// The built-in lock is part of the binary: its pins are used, never written. A kernel it
	// does not pin is resolved again on every run; the images are returned either way.
	if len(pins) == 0 || r.lock.Builtin() {
		return nil
	}
	lock, err := LoadLock(r.lock.Path)
	if err != nil {
		return err
	}
	before := lock.Marshal()
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name
	}
	if cfg := entries[0].cfg; cfg != nil {
		names = cfg.Names()
	}
	order := lockOrder(names)
	for _, p := range pins {
		lock.put(p, order)
	}
	if bytes.Equal(lock.Marshal(), before) {
		if _, err := os.Stat(lock.Path); err == nil {
			return nil
		}
	}
	return lock.Write()
}

// getApt sets up the private apt state once per run.
func (r *fetchRun) getApt() (*apt, error) {
	r.aptOnce.Do(func() {
		getenv := r.f.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		list, parts := r.f.AptSourcesList, r.f.AptSourceParts
		if list == "" && parts == "" {
			list, parts = "/etc/apt/sources.list", "/etc/apt/sources.list.d"
		}
		srcs, err := ReadAptSources(list, parts)
		if err != nil {
			r.aptErr = err
			return
		}
		archive, err := FindDebianArchive(srcs, getenv)
		if err != nil {
			r.aptErr = err
			return
		}
		if archive.SecurityMirror == "" {
			r.step(Step{Message: fmt.Sprintf("warning: no Debian security archive configured (set %s): the newest 5.10, 6.1 and 6.12 builds live there", EnvDebianSecurityMirror)})
		}
		r.apt = newApt(r.cache.dir, archOrDefault(r.arch), archive)
	})
	return r.apt, r.aptErr
}

// packageIndex returns the package index, refreshed from the archive once per run (resolving
// "the newest build" must not use stale lists). Offline, the lists already on disk are used.
func (r *fetchRun) packageIndex(ctx context.Context) (*packageIndex, error) {
	a, err := r.getApt()
	if err != nil {
		return nil, err
	}
	if err := r.indexMu.lock(ctx); err != nil {
		return nil, err
	}
	defer r.indexMu.unlock()
	if r.index != nil || r.indexErr != nil {
		return r.index, r.indexErr
	}
	if !r.f.Offline {
		if err := r.updateLists(ctx, a); err != nil {
			r.indexErr = err // every kernel fails for the same reason; do not ask again per kernel
			return nil, err
		}
	}
	start := time.Now()
	r.index, r.indexErr = a.loadIndex(ctx)
	if r.indexErr == nil {
		r.step(Step{Message: fmt.Sprintf("read package index: %d kernel-related packages (%.1fs)", len(r.index.byName), time.Since(start).Seconds())})
	}
	return r.index, r.indexErr
}

// ensureLists makes sure apt has package lists to download a pinned version from, without
// refreshing lists that exist (a pinned download does not need the newest lists).
func (r *fetchRun) ensureLists(ctx context.Context, a *apt) error {
	if err := r.indexMu.lock(ctx); err != nil {
		return err
	}
	defer r.indexMu.unlock()
	if files, err := a.indexFiles(ctx); err == nil && len(files) > 0 {
		return nil
	}
	return r.updateLists(ctx, a)
}

// updateLists runs apt-get update, at most once per run.
func (r *fetchRun) updateLists(ctx context.Context, a *apt) error {
	if a.updated.Load() {
		return nil
	}
	if !r.f.Update && a.fresh() {
		r.step(Step{Message: fmt.Sprintf("package index is less than %v old: reusing it", listsFreshFor)})
	} else {
		r.step(Step{Message: fmt.Sprintf("updating Debian package index (%d suites)", len(debianSuites))})
	}
	start := time.Now()
	ran, err := a.update(ctx, r.f.Update, func(w string) { r.step(Step{Message: w}) })
	if err != nil {
		return err
	}
	if ran {
		r.step(Step{Message: fmt.Sprintf("package index updated (%.1fs)", time.Since(start).Seconds())})
	}
	return nil
}

// ensureDeb returns the path of the cached package file ref, downloading it when it is missing or
// damaged: straight from its archive path when kernels.lock knows it, else (or when that fails)
// through the package index. The package's lock is taken before deciding to download: a second
// process fetching the same kernel waits for the first one's download and then finds the package
// cached.
func (r *fetchRun) ensureDeb(ctx context.Context, kernel string, ref debRef) (string, error) {
	dir := r.cache.debsDir()
	deb := debFileName(ref.pkg, ref.version, r.arch)
	path := filepath.Join(dir, deb)
	if ok, err := r.cachedDeb(ctx, kernel, path, ref.sum); ok || err != nil {
		return path, err
	}
	if r.f.Offline {
		return "", fmt.Errorf("package %s=%s is not cached and --offline forbids downloading it", ref.pkg, ref.version)
	}
	a, err := r.getApt()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, "."+deb+".lock"), true)
	if err != nil {
		return "", err
	}
	defer unlock()
	if ok, err := r.cachedDeb(ctx, kernel, path, ref.sum); ok || err != nil {
		return path, err
	}
	if ref.pool != "" {
		path, err := r.downloadPool(ctx, a, kernel, ref)
		if err == nil || ctx.Err() != nil {
			return path, err
		}
		r.step(Step{Kernel: kernel, Message: "warning: " + err.Error() + ": downloading through the package index"})
	}
	if err := r.ensureLists(ctx, a); err != nil {
		return "", err
	}
	return r.downloadDeb(ctx, a, kernel, ref)
}

// cachedDeb reports whether the package file at path is there with the sha256 sum; a damaged
// one is removed (reported as a step) so that it is downloaded again.
func (r *fetchRun) cachedDeb(ctx context.Context, kernel, path, sum string) (bool, error) {
	got, err := files.SHA256(ctx, path)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return false, nil
	}
	if got == sum {
		return true, nil
	}
	r.step(Step{Kernel: kernel, Message: fmt.Sprintf("cached %s is damaged (sha256 %s, want %s): downloading again", filepath.Base(path), shortSum(got), shortSum(sum))})
	os.Remove(path)
	return false, nil
}

// downloadDeb downloads a package into the cache through the package index (apt-get download)
// and checks it against its sum.
func (r *fetchRun) downloadDeb(ctx context.Context, a *apt, kernel string, ref debRef) (string, error) {
	dir := r.cache.debsDir()
	pkg, version, sum := ref.pkg, ref.version, ref.sum
	done := r.startDownload(kernel, ref)
	path, err := a.download(ctx, pkg, version, dir)
	if errors.Is(err, ErrNotInIndex) {
		// The lists may predate the version (or the archive dropped it): refresh once and retry.
		if err := r.indexMu.lock(ctx); err != nil {
			return "", err
		}
		ierr := r.updateLists(ctx, a)
		r.indexMu.unlock()
		if ierr != nil {
			return "", ierr
		}
		path, err = a.download(ctx, pkg, version, dir)
	}
	if err != nil {
		return "", err
	}
	got, err := files.SHA256(ctx, path)
	if err != nil {
		return "", err
	}
	if got != sum {
		os.Remove(path)
		return "", fmt.Errorf("%s: sha256 %s, expected %s", debFileName(pkg, version, r.arch), got, sum)
	}
	done(path)
	return path, nil
}

// cached returns the verified cache entry for a pin, reporting a corrupt entry as a step. An
// error means the kernel cannot be had at all: the entry is damaged and cannot be removed (a
// read-only cache), or ctx ended.
func (r *fetchRun) cached(ctx context.Context, kernel, sum string) (*Manifest, bool, error) {
	m, err := r.cache.load(ctx, sum)
	if err == nil {
		r.step(Step{Kernel: kernel, Message: "cached image verified (sha256 " + shortSum(sum) + ")"})
		return m, true, nil
	}
	if ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	if errors.Is(err, errCacheDamaged) {
		return nil, false, err
	}
	if errors.Is(err, errCacheMiss) && err != errCacheMiss {
		r.step(Step{Kernel: kernel, Message: err.Error() + ": fetching again"})
	}
	return nil, false, nil
}
