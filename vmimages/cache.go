package vmimages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/ctxio"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/tempdir"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// DefaultCacheDir is $XDG_CACHE_HOME/bpfmatrix, or ~/.cache/bpfmatrix when XDG_CACHE_HOME is unset.
// Its error wraps ErrCacheDir.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "bpfmatrix"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("%w: set XDG_CACHE_HOME or HOME, or name one with --cache-dir: %w", ErrCacheDir, err)
	}
	return filepath.Join(home, ".cache", "bpfmatrix"), nil
}

// ErrCacheDir is wrapped by the errors of a cache directory that cannot be one: none can be
// found (no HOME, no XDG_CACHE_HOME), or the path runs through a file. It is bad setup, not a
// kernel's failure, so commands refuse it before they start.
var ErrCacheDir = errors.New("cache directory")

// CheckCacheDir resolves dir (DefaultCacheDir when empty) and checks that it is a directory or
// can become one: each existing part of the path must be a directory. Otherwise every kernel
// would be reported "not cached" while the cause is the path.
func CheckCacheDir(dir string) (string, error) {
	if dir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err == nil {
			if !st.IsDir() {
				return "", fmt.Errorf("%w %s: %s is not a directory", ErrCacheDir, dir, p)
			}
			return dir, nil
		}
		// ENOTDIR: a part above is a file, which the next round names.
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return "", fmt.Errorf("%w %s: %w", ErrCacheDir, dir, err)
		}
		if filepath.Dir(p) == p {
			return dir, nil
		}
	}
}

// Manifest describes one cached kernel image; it is images/<sha256>/manifest.json. Files maps
// every file of the entry (relative to its directory) to its sha256, so that reading the entry
// can prove that nothing was truncated or changed since it was written.
type Manifest struct {
	SHA256        string `json:"sha256"` // of vmlinuz; also the entry's directory name
	Source        string `json:"source"`
	Package       string `json:"package,omitempty"`
	DebianVersion string `json:"debian_version,omitempty"`
	Version       string `json:"version,omitempty"`
	Release       string `json:"release"`
	// Arch is the architecture the kernel is built for; empty for amd64 (entries written before
	// architectures were told apart are amd64).
	Arch          observation.Arch `json:"arch,omitempty"`
	Suite         string           `json:"suite,omitempty"`
	ConfigPackage string           `json:"config_package,omitempty"`
	Config        string           `json:"config,omitempty"`  // "config" when the entry has one
	Modules       []string         `json:"modules,omitempty"` // relative paths, in load order
	// KfuncModules are the modules that register kfuncs, with their dependencies, as relative
	// paths in load order (after Modules).
	KfuncModules []string `json:"kfunc_modules,omitempty"`
	// ModulesPackage is the package the modules came from when it is not Package (6.19+).
	ModulesPackage string `json:"modules_package,omitempty"`
	// Layout is the version of the extraction rules that made a Debian entry: an entry of an
	// older layout lacks what the rules now extract, and a fetch extracts it again.
	Layout  int               `json:"layout,omitempty"`
	Files   map[string]string `json:"files"`
	Created time.Time         `json:"created"`
}

// debianLayout is the Layout of the Debian entries this version extracts: 1 added the kfunc
// modules (entries without a layout hold the virtio modules only).
const debianLayout = 1

// stale says a Debian entry was made by older extraction rules and lacks what they now extract.
func (m *Manifest) stale() bool { return m.Package != "" && m.Layout < debianLayout }

// imageCache is the on-disk layout under the cache directory:
//
//	images/<sha256>/{vmlinuz,config,modules/...,manifest.json}   one entry per kernel image
//	debs/<package>_<version>_<arch>.deb                           downloaded packages
//	apt/, apt-<arch>/                                             private apt state (lists, cache) of amd64, of another architecture
type imageCache struct {
	dir string
}

func (c imageCache) imageDir(sum string) string { return filepath.Join(c.dir, "images", sum) }
func (c imageCache) debsDir() string            { return filepath.Join(c.dir, "debs") }

// errCacheMiss means there is no usable entry; a corrupt entry is removed and also reported as a miss.
var errCacheMiss = errors.New("not cached")

// errCacheDamaged means an entry is corrupt and could not be removed (a read-only cache): the
// image cannot be stored again either, so the kernel fails with this as its reason.
var errCacheDamaged = errors.New("damaged cache entry")

// load returns the verified manifest of the entry for sum. An entry that fails verification
// (missing manifest, missing or changed file) is deleted so that it is fetched again; when it
// cannot be deleted, the error wraps errCacheDamaged and says why.
func (c imageCache) load(ctx context.Context, sum string) (*Manifest, error) {
	dir := c.imageDir(sum)
	m, err := verifyEntry(ctx, dir, sum)
	if err == nil {
		return m, nil
	}
	if ctx.Err() != nil {
		return nil, err
	}
	if _, serr := os.Stat(dir); serr != nil {
		return nil, errCacheMiss
	}
	// Corrupt or half-written: move it out of the way first so a concurrent reader never sees a
	// partly deleted entry, then delete it.
	trash := filepath.Join(c.dir, "images", corruptPrefix+sum+"-"+fmt.Sprint(time.Now().UnixNano()))
	if rerr := os.Rename(dir, trash); rerr != nil {
		return nil, fmt.Errorf("%w %s: %v; it could not be removed (%v), so the image cannot be stored again: "+
			"remove it, or use a writable --cache-dir", errCacheDamaged, dir, err, rerr)
	}
	os.RemoveAll(trash)
	return nil, fmt.Errorf("%w (cache entry %s was invalid and has been removed: %v)", errCacheMiss, dir, err)
}

// Status reports whether the image with this vmlinuz sha256 is in the cache and intact, without
// changing the cache.
func (c imageCache) Status(sum string) error {
	_, err := verifyEntry(context.Background(), c.imageDir(sum), sum)
	return err
}

func verifyEntry(ctx context.Context, dir, sum string) (*Manifest, error) {
	data, err := files.ReadRegular(filepath.Join(dir, "manifest.json"), files.Record)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.SHA256 != sum || m.Files["vmlinuz"] != sum {
		return nil, fmt.Errorf("manifest names sha256 %s, entry is %s", m.SHA256, sum)
	}
	stamps := readStamps(dir)
	if stamps.match(dir, m.Files) {
		return &m, nil
	}
	for rel, want := range m.Files {
		got, err := files.SHA256(ctx, filepath.Join(dir, rel))
		if err != nil {
			return nil, err
		}
		if got != want {
			return nil, fmt.Errorf("%s: sha256 %s, manifest says %s", rel, got, want)
		}
	}
	writeStamps(dir, m.Files)
	return &m, nil
}

// stampsFile, beside an entry's manifest, records each file's identity (size, modification and
// change times, inode) when its hash last matched the manifest. Reading an entry whose files
// still have those identities skips re-hashing them: every command that reads observations
// checks all eleven images first, 145 MB of hashing that cost a warm `verify NAME` more than
// everything else but parsing. A file written or replaced since changes its change time, which
// no tool can set back; damage that changes none of these (a disk's bit rot) is what the stamp
// gives up detecting.
const stampsFile = "verified.json"

// fileStamp is a file's identity as the stamps file records it.
type fileStamp struct {
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
	Inode uint64 `json:"inode"`
}

type stamps map[string]fileStamp

func readStamps(dir string) stamps {
	data, err := files.ReadRegular(filepath.Join(dir, stampsFile), files.Record)
	if err != nil {
		return nil
	}
	var st stamps
	if json.Unmarshal(data, &st) != nil {
		return nil
	}
	return st
}

// match reports whether every file the manifest lists still has its stamped identity.
func (st stamps) match(dir string, listed map[string]string) bool {
	if len(st) != len(listed) {
		return false
	}
	for rel := range listed {
		want, ok := st[rel]
		got, err := stampOf(filepath.Join(dir, rel))
		if !ok || err != nil || got != want {
			return false
		}
	}
	return true
}

// writeStamps records the identities of an entry's files after their hashes matched; a cache
// that cannot be written (read-only) just keeps hashing.
func writeStamps(dir string, listed map[string]string) {
	st := stamps{}
	for rel := range listed {
		s, err := stampOf(filepath.Join(dir, rel))
		if err != nil {
			return
		}
		st[rel] = s
	}
	data, err := json.Marshal(st)
	if err != nil {
		return
	}
	files.WriteAtomic(filepath.Join(dir, stampsFile), data, 0o644)
}

func stampOf(path string) (fileStamp, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileStamp{}, err
	}
	return fileStamp{Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(), Inode: st.Ino}, nil
}

// store moves a fully written staging directory into place as the entry for m.SHA256, writing
// the manifest last (after every file's hash is known), then renaming the directory: a reader
// sees either no entry or a complete one.
func (c imageCache) store(ctx context.Context, staging *tempdir.Dir, m *Manifest) error {
	m.Files = map[string]string{}
	err := filepath.Walk(staging.Path, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || info.Name() == tempdir.LockName {
			return err
		}
		rel, _ := filepath.Rel(staging.Path, p)
		sum, err := files.SHA256(ctx, p)
		if err != nil {
			return err
		}
		m.Files[filepath.ToSlash(rel)] = sum
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if m.Files["vmlinuz"] != m.SHA256 {
		return fmt.Errorf("cache: vmlinuz sha256 %s does not match %s", m.Files["vmlinuz"], m.SHA256)
	}
	m.Created = time.Now().UTC().Truncate(time.Second)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := files.WriteAtomic(filepath.Join(staging.Path, "manifest.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	return c.moveIntoPlace(ctx, staging, m)
}

// moveIntoPlace renames a complete staging directory, whose manifest is m, to the entry of
// m.SHA256.
func (c imageCache) moveIntoPlace(ctx context.Context, staging *tempdir.Dir, m *Manifest) error {
	sum := m.SHA256
	dst := c.imageDir(sum)
	if err := os.Rename(staging.Path, dst); err == nil {
		staging.Moved(dst)
		return nil
	}
	// Another process stored the same image meanwhile; keep theirs if it is intact and holds
	// what this one does. An entry of older rules, or one extracted before its pin named a
	// modules package (6.19 and later), is being replaced: moved aside first, so that a reader
	// never sees it half deleted.
	if old, verr := verifyEntry(ctx, dst, sum); verr == nil && !old.stale() && old.ModulesPackage == m.ModulesPackage {
		return nil // the caller removes the staging directory
	}
	trash := filepath.Join(c.dir, "images", corruptPrefix+sum+"-"+fmt.Sprint(time.Now().UnixNano()))
	if os.Rename(dst, trash) == nil {
		defer os.RemoveAll(trash)
	} else {
		os.RemoveAll(dst)
	}
	if err := os.Rename(staging.Path, dst); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	staging.Moved(dst)
	return nil
}

// Prefixes of the directories a fetch makes inside the cache: staging directories (entries being
// written) and corrupt entries on their way out.
const (
	stagingPrefix = ".staging-"
	corruptPrefix = ".corrupt-"
)

// orphanAge is the age after which a staging directory without its lock file (a process died
// between two steps of its cleanup) is swept: the cache is bpfmatrix's own, so its prefix proves
// whose it is, and no fetch writes one entry for a day.
const orphanAge = 24 * time.Hour

// newStaging creates a temporary directory inside images/ (same file system, so the final
// rename is atomic), locked so that a later fetch can tell it from one in use.
func (c imageCache) newStaging() (*tempdir.Dir, error) {
	dir := filepath.Join(c.dir, "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	d, err := tempdir.New(dir, stagingPrefix)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return d, nil
}

// sweep removes what killed fetches left in the cache: staging directories and partial
// downloads whose process is gone, and corrupt entries that were moved aside but not deleted.
func (c imageCache) sweep() {
	images := filepath.Join(c.dir, "images")
	tempdir.Sweep(images, stagingPrefix, orphanAge)
	tempdir.Sweep(images, corruptPrefix, time.Nanosecond)
	tempdir.Sweep(c.debsDir(), downloadPrefix, orphanAge)
}

// image turns a verified manifest into the Image handed to callers.
func (c imageCache) image(name string, m *Manifest) Image {
	dir := c.imageDir(m.SHA256)
	img := Image{
		Name: name, Arch: archOrDefault(m.Arch), Source: m.Source, Package: m.Package, Version: m.Version,
		DebianVersion: m.DebianVersion, Release: m.Release, Suite: m.Suite, SHA256: m.SHA256,
		Path: filepath.Join(dir, "vmlinuz"),
	}
	if m.Config != "" {
		img.ConfigPath = filepath.Join(dir, m.Config)
	}
	for _, mod := range m.Modules {
		img.Modules = append(img.Modules, filepath.Join(dir, filepath.FromSlash(mod)))
	}
	for _, mod := range m.KfuncModules {
		img.KfuncModules = append(img.KfuncModules, filepath.Join(dir, filepath.FromSlash(mod)))
	}
	return img
}

// copyFile copies src to dst (dst is new; the caller renames the directory holding it),
// stopping when ctx ends.
func copyFile(ctx context.Context, src, dst string) error {
	in, err := files.OpenRegular(src, files.Image)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := ctxio.Copy(ctx, out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// shortSum abbreviates a sha256 for tables and progress lines.
func shortSum(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
