package vmimages

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
)

// DefaultCacheDir is $XDG_CACHE_HOME/bpfmatrix, or ~/.cache/bpfmatrix when XDG_CACHE_HOME is unset.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "bpfmatrix"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cache directory: set XDG_CACHE_HOME: %w", err)
	}
	return filepath.Join(home, ".cache", "bpfmatrix"), nil
}

// Manifest describes one cached kernel image; it is images/<sha256>/manifest.json. Files maps
// every file of the entry (relative to its directory) to its sha256, so that reading the entry
// can prove that nothing was truncated or changed since it was written.
type Manifest struct {
	SHA256        string            `json:"sha256"` // of vmlinuz; also the entry's directory name
	Source        string            `json:"source"`
	Package       string            `json:"package,omitempty"`
	DebianVersion string            `json:"debian_version,omitempty"`
	Version       string            `json:"version,omitempty"`
	Release       string            `json:"release"`
	Suite         string            `json:"suite,omitempty"`
	ConfigPackage string            `json:"config_package,omitempty"`
	Config        string            `json:"config,omitempty"`  // "config" when the entry has one
	Modules       []string          `json:"modules,omitempty"` // relative paths, in load order
	Files         map[string]string `json:"files"`
	Created       time.Time         `json:"created"`
}

// imageCache is the on-disk layout under the cache directory:
//
//	images/<sha256>/{vmlinuz,config,modules/...,manifest.json}   one entry per kernel image
//	debs/<package>_<version>_amd64.deb                            downloaded packages
//	apt/                                                          private apt state (lists, cache)
type imageCache struct {
	dir string
}

func (c imageCache) imageDir(sum string) string { return filepath.Join(c.dir, "images", sum) }
func (c imageCache) debsDir() string            { return filepath.Join(c.dir, "debs") }

// errCacheMiss means there is no usable entry; a corrupt entry is removed and also reported as a miss.
var errCacheMiss = errors.New("not cached")

// load returns the verified manifest of the entry for sum. An entry that fails verification
// (missing manifest, missing or changed file) is deleted so that it is fetched again.
func (c imageCache) load(sum string) (*Manifest, error) {
	dir := c.imageDir(sum)
	m, err := verifyEntry(dir, sum)
	if err == nil {
		return m, nil
	}
	if _, serr := os.Stat(dir); serr == nil {
		// Corrupt or half-written: move it out of the way first so a concurrent reader never
		// sees a partly deleted entry, then delete it.
		trash := dir + ".corrupt-" + fmt.Sprint(time.Now().UnixNano())
		if rerr := os.Rename(dir, trash); rerr == nil {
			os.RemoveAll(trash)
		}
		return nil, fmt.Errorf("%w (cache entry %s was invalid and has been removed: %v)", errCacheMiss, dir, err)
	}
	return nil, errCacheMiss
}

// Status reports whether the image with this vmlinuz sha256 is in the cache and intact, without
// changing the cache.
func (c imageCache) Status(sum string) error {
	_, err := verifyEntry(c.imageDir(sum), sum)
	return err
}

func verifyEntry(dir, sum string) (*Manifest, error) {
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
		got, err := files.SHA256(filepath.Join(dir, rel))
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
func (c imageCache) store(staging string, m *Manifest) error {
	m.Files = map[string]string{}
	err := filepath.Walk(staging, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(staging, p)
		sum, err := files.SHA256(p)
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
	if err := files.WriteAtomic(filepath.Join(staging, "manifest.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	dst := c.imageDir(m.SHA256)
	if err := os.Rename(staging, dst); err != nil {
		// Another process stored the same image meanwhile; keep theirs if it is intact.
		if _, verr := verifyEntry(dst, m.SHA256); verr == nil {
			os.RemoveAll(staging)
			return nil
		}
		os.RemoveAll(dst)
		if err := os.Rename(staging, dst); err != nil {
			return fmt.Errorf("cache: %w", err)
		}
	}
	return nil
}

// newStaging creates a temporary directory inside images/ (same file system, so the final
// rename is atomic).
func (c imageCache) newStaging() (string, error) {
	dir := filepath.Join(c.dir, "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	d, err := os.MkdirTemp(dir, ".staging-")
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return d, nil
}

// image turns a verified manifest into the Image handed to callers.
func (c imageCache) image(name string, m *Manifest) Image {
	dir := c.imageDir(m.SHA256)
	img := Image{
		Name: name, Source: m.Source, Package: m.Package, Version: m.Version,
		DebianVersion: m.DebianVersion, Release: m.Release, Suite: m.Suite, SHA256: m.SHA256,
		Path: filepath.Join(dir, "vmlinuz"),
	}
	if m.Config != "" {
		img.ConfigPath = filepath.Join(dir, m.Config)
	}
	for _, mod := range m.Modules {
		img.Modules = append(img.Modules, filepath.Join(dir, filepath.FromSlash(mod)))
	}
	return img
}

// copyFile copies src to dst (dst is new; the caller renames the directory holding it).
func copyFile(src, dst string) error {
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
	if _, err := io.Copy(out, in); err != nil {
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

// isSHA256 reports whether s is 64 lower-case hex digits.
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}
