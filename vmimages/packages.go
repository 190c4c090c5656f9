package vmimages

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// Packages fetches Debian packages other than kernels (the tools that ship BPF objects, say)
// through the same private apt state as the kernel images: the archive comes from the machine's
// apt configuration or the BPFMATRIX_DEBIAN_* variables, apt checks the signatures, and the
// system's sources and package state are never touched. Package files land in the cache's debs/
// directory and are checked against their SHA-256 before they are handed out.
type Packages struct {
	// CacheDir holds the packages and the private apt state; empty means DefaultCacheDir().
	CacheDir string
	// Offline forbids any download: Versions reads the lists on disk and Download serves only
	// cached packages.
	Offline bool
	// Progress, when set, receives one plain line per step.
	Progress io.Writer
	// Getenv reads the mirror overrides; nil means os.Getenv.
	Getenv func(string) string
	// AptSourcesList and AptSourceParts are the apt configuration the archive address is taken
	// from; empty means /etc/apt/sources.list and /etc/apt/sources.list.d.
	AptSourcesList, AptSourceParts string
}

// PackageVersion is one version of a package as a suite's signed index lists it.
type PackageVersion struct {
	Package string
	Version string
	Suite   string // bookworm, trixie-backports, ...
	SHA256  string // of the .deb
	Size    int64  // bytes of the .deb
}

// run makes the fetch machinery of the kernel images serve these packages; no kernels.lock is
// involved.
func (p *Packages) run() (*fetchRun, error) {
	cacheDir, err := CheckCacheDir(p.CacheDir)
	if err != nil {
		return nil, err
	}
	f := &Fetcher{CacheDir: cacheDir, Offline: p.Offline, Progress: p.Progress, Getenv: p.Getenv,
		AptSourcesList: p.AptSourcesList, AptSourceParts: p.AptSourceParts}
	return &fetchRun{f: f, arch: observation.DefaultArch, cache: imageCache{dir: cacheDir}}, nil
}

// Versions lists every version of the named packages in every suite searched for kernels
// (bullseye to experimental, amd64, main), refreshing the package lists first unless they are
// fresh or p.Offline is set. The result is ordered by package, then suite (oldest first).
func (p *Packages) Versions(ctx context.Context, names []string) ([]PackageVersion, error) {
	r, err := p.run()
	if err != nil {
		return nil, err
	}
	a, err := r.getApt()
	if err != nil {
		return nil, err
	}
	if !p.Offline {
		if err := r.updateLists(ctx, a); err != nil {
			return nil, err
		}
	}
	idx, err := a.loadIndexOf(ctx, func(pkg string) bool { return slices.Contains(names, pkg) })
	if err != nil {
		return nil, err
	}
	var out []PackageVersion
	for _, n := range names {
		recs := slices.Clone(idx.byName[n])
		slices.SortStableFunc(recs, func(x, y pkgRecord) int { return suiteRank(x.Suite) - suiteRank(y.Suite) })
		for _, rec := range recs {
			out = append(out, PackageVersion{Package: rec.Package, Version: rec.Version, Suite: rec.Suite, SHA256: rec.SHA256, Size: rec.Size})
		}
	}
	return out, nil
}

// Download returns the path of the cached package file pkg=version whose SHA-256 is sum,
// downloading it when it is missing or damaged (unless p.Offline).
func (p *Packages) Download(ctx context.Context, pkg, version, sum string) (string, error) {
	if !files.IsSHA256(sum) {
		return "", fmt.Errorf("package %s=%s: %q is not a sha256", pkg, version, sum)
	}
	r, err := p.run()
	if err != nil {
		return "", err
	}
	return r.ensureDeb(ctx, pkg, debRef{pkg: pkg, version: version, sum: sum})
}
