package realobjects

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// Object is a pinned BPF object on disk, checked against its pin.
type Object struct {
	Package, Version, Suite string
	File                    string // path in the package
	Offset                  int64  // where an embedded object starts in File; -1 for a .o file
	SHA256                  string
	Path                    string // the object in the cache
}

// Options say where objects are cached and how packages are fetched.
type Options struct {
	// CacheDir is the bpfmatrix cache; objects go to its objects/ directory, packages to debs/.
	// Empty means vmimages.DefaultCacheDir().
	CacheDir string
	// Offline forbids downloads: every object must be cached already.
	Offline bool
	// Progress, when set, receives one plain line per step.
	Progress io.Writer
	// Getenv reads the Debian mirror overrides; nil means os.Getenv.
	Getenv func(string) string
}

// packages is the vmimages fetcher these options describe.
func (o Options) packages() (*vmimages.Packages, string, error) {
	dir, err := vmimages.CheckCacheDir(o.CacheDir)
	if err != nil {
		return nil, "", err
	}
	return &vmimages.Packages{CacheDir: dir, Offline: o.Offline, Progress: o.Progress, Getenv: o.Getenv}, dir, nil
}

// Fetch returns every object of the lock, in lock order, from the cache when its copy matches
// the pinned sha256, otherwise taken again from its package (downloaded unless cached, and
// checked against deb_sha256). An object the package no longer holds, or holds with other
// bytes, is an error naming the lock line.
func Fetch(ctx context.Context, l *Lock, opts Options) ([]Object, error) {
	pk, cacheDir, err := opts.packages()
	if err != nil {
		return nil, err
	}
	var out []Object
	for _, p := range l.Packages {
		objs, err := fetchPackage(ctx, pk, filepath.Join(cacheDir, "objects"), l.Path, p)
		if err != nil {
			return out, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// fetchPackage makes one package's objects available.
func fetchPackage(ctx context.Context, pk *vmimages.Packages, objectsDir, lockPath string, p PackagePin) ([]Object, error) {
	dir := filepath.Join(objectsDir, p.Package+"_"+p.Version)
	out := make([]Object, len(p.Objects))
	missing := map[string]int{} // Found.Name() -> index of a pin not cached
	for i, o := range p.Objects {
		out[i] = Object{Package: p.Package, Version: p.Version, Suite: p.Suite, File: o.File, Offset: o.Offset, SHA256: o.SHA256, Path: filepath.Join(dir, o.CacheName())}
		if got, err := files.SHA256(ctx, out[i].Path); err != nil || got != o.SHA256 {
			missing[Found{File: o.File, Offset: o.Offset}.Name()] = i
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	deb, err := pk.Download(ctx, p.Package, p.Version, p.DebSHA256)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: %w", lockPath, p.Line, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	err = ScanDeb(ctx, deb, func(f Found) error {
		i, ok := missing[f.Name()]
		if !ok {
			return nil
		}
		pin := p.Objects[i]
		if got := sum(f.Data); got != pin.SHA256 {
			return fmt.Errorf("%s:%d: %s in %s %s has sha256 %s, pinned %s", lockPath, pin.Line, f.Name(), p.Package, p.Version, got, pin.SHA256)
		}
		delete(missing, f.Name())
		return files.WriteAtomic(out[i].Path, f.Data, 0o644)
	})
	if err != nil {
		return nil, err
	}
	for i, o := range p.Objects {
		name := Found{File: o.File, Offset: o.Offset}.Name()
		if j, left := missing[name]; left && j == i {
			return nil, fmt.Errorf("%s:%d: %s %s holds no BPF object %s", lockPath, o.Line, p.Package, p.Version, name)
		}
	}
	return out, nil
}

// sum is the hex sha256 of data.
func sum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// Pin resolves each named package to its version in suite, downloads it and pins every BPF
// object it holds (files and embedded skeletons, in archive order), each distinct object once:
// xdp-tools' binaries embed the same libxdp objects that libxdp1 installs as files.
func Pin(ctx context.Context, names []string, suite string, opts Options) (*Lock, error) {
	pk, _, err := opts.packages()
	if err != nil {
		return nil, err
	}
	versions, err := pk.Versions(ctx, names)
	if err != nil {
		return nil, err
	}
	l := &Lock{}
	seen := map[string]bool{}
	for _, n := range names {
		i := slices.IndexFunc(versions, func(v vmimages.PackageVersion) bool { return v.Package == n && v.Suite == suite })
		if i < 0 {
			return nil, fmt.Errorf("package %s: not in %s's index", n, suite)
		}
		v := versions[i]
		deb, err := pk.Download(ctx, v.Package, v.Version, v.SHA256)
		if err != nil {
			return nil, err
		}
		p := PackagePin{Package: v.Package, Version: v.Version, Suite: v.Suite, DebSHA256: v.SHA256}
		err = ScanDeb(ctx, deb, func(f Found) error {
			if s := sum(f.Data); !seen[s] {
				seen[s] = true
				p.Objects = append(p.Objects, ObjectPin{File: f.File, Offset: f.Offset, SHA256: s})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(p.Objects) == 0 {
			return nil, fmt.Errorf("package %s %s holds no BPF object", v.Package, v.Version)
		}
		l.Packages = append(l.Packages, p)
	}
	return l, nil
}
