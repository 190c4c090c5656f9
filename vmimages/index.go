package vmimages

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// ErrNotInIndex reports that the archive's package index has no such package version.
var ErrNotInIndex = errors.New("not in the Debian package index")

// suiteRank orders suites for deterministic tie breaks (the same package version in two suites).
func suiteRank(suite string) int {
	for i, s := range debianSuites {
		if s.name == suite {
			return i
		}
	}
	return len(debianSuites)
}

// loadIndex reads the kernel-related stanzas of every Packages index. apt stores the indexes
// compressed in whatever format its configuration chooses (lz4 on Debian's container images), so
// they are read through apt-helper cat-file, which knows all of them.
func (a *apt) loadIndex(ctx context.Context) (*packageIndex, error) {
	return a.loadIndexOf(ctx, nil)
}

// loadIndexOf reads the stanzas of the packages keep accepts (nil: the kernel-related ones).
func (a *apt) loadIndexOf(ctx context.Context, keep func(pkg string) bool) (*packageIndex, error) {
	files, err := a.indexFiles(ctx)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Debian package index in %s: run without --offline to download it", a.listsDir())
	}
	idx := &packageIndex{keep: keep}
	for _, f := range files {
		r, wait, err := openIndex(ctx, f.path)
		if err != nil {
			return nil, err
		}
		perr := idx.add(r, f.suite, f.path)
		werr := wait()
		if perr != nil {
			return nil, perr
		}
		if werr != nil {
			return nil, fmt.Errorf("read %s: %w", f.path, werr)
		}
	}
	return idx, nil
}

// openIndex streams a (possibly compressed) index file.
func openIndex(ctx context.Context, path string) (io.Reader, func() error, error) {
	helper := "/usr/lib/apt/apt-helper"
	if _, err := os.Stat(helper); err != nil {
		if p, lerr := exec.LookPath("apt-helper"); lerr == nil {
			helper = p
		} else {
			helper = ""
		}
	}
	if helper != "" {
		cmd := command(ctx, helper, "cat-file", path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, fmt.Errorf("apt-helper cat-file %s: %w", path, err)
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, fmt.Errorf("apt-helper cat-file %s: %w", path, err)
		}
		return out, func() error {
			_, _ = io.Copy(io.Discard, out)
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("apt-helper cat-file: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
			}
			return nil
		}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read index: %w", err)
	}
	switch filepath.Ext(path) {
	case ".gz":
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("read index %s: %w", path, err)
		}
		return zr, f.Close, nil
	case "", ".Packages":
		return f, f.Close, nil
	}
	f.Close()
	return nil, nil, fmt.Errorf("read index %s: compressed index and no apt-helper to read it", path)
}

// pkgRecord is the part of a Packages stanza the resolver needs.
type pkgRecord struct {
	Package       string
	Version       string
	Architecture  string
	InstalledSize int64 // KiB
	Size          int64 // bytes of the .deb
	SHA256        string
	Depends       string
	Suite         string
	// Filename is the .deb's path below the archive's root (pool/main/...): with it a pinned
	// package is downloaded without the index (see kernels.lock's deb_path).
	Filename string
}

// packageIndex holds the kernel packages ("linux-*") of every suite searched, or the packages its keep names.
type packageIndex struct {
	byName map[string][]pkgRecord
	// keep selects the packages held; nil holds the kernel-related ones (linux-*).
	keep func(pkg string) bool
}

// wants reports whether the index holds a package's stanzas.
func (idx *packageIndex) wants(pkg string) bool {
	if idx.keep != nil {
		return idx.keep(pkg)
	}
	return strings.HasPrefix(pkg, "linux-")
}

// add parses one Packages file. Only the wanted stanzas are kept (linux-* by default): the rest
// of the archive (tens of thousands of packages per suite) is not needed and would cost memory. This scanner is kept
// rather than pault.ag/go/debian/control, whose reader builds a map for every stanza: on the ten
// suites' real indexes (230 MB) it found the same records but took three times as long, with
// five times the allocations (BenchmarkParseRealIndex).
func (idx *packageIndex) add(r io.Reader, suite, file string) error {
	if idx.byName == nil {
		idx.byName = map[string][]pkgRecord{}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	var rec pkgRecord
	keep := false
	flush := func() {
		if keep && rec.Package != "" {
			rec.Suite = suite
			idx.byName[rec.Package] = append(idx.byName[rec.Package], rec)
		}
		rec, keep = pkgRecord{}, false
	}
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" {
			flush()
			continue
		}
		if text[0] == ' ' || text[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(text, ":")
		if !ok {
			return fmt.Errorf("%s:%d: malformed Packages line", file, line)
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Package":
			rec.Package = v
			keep = idx.wants(v)
		case "Version":
			rec.Version = v
		case "Architecture":
			rec.Architecture = v
		case "Installed-Size":
			rec.InstalledSize, _ = strconv.ParseInt(v, 10, 64)
		case "Size":
			rec.Size, _ = strconv.ParseInt(v, 10, 64)
		case "SHA256":
			rec.SHA256 = v
		case "Depends":
			rec.Depends = v
		case "Filename":
			rec.Filename = v
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	flush()
	return nil
}

// lookup finds an exact package version.
func (idx *packageIndex) lookup(pkg, version string) (pkgRecord, bool) {
	var best pkgRecord
	found := false
	for _, r := range idx.byName[pkg] {
		if r.Version == version && (!found || suiteRank(r.Suite) < suiteRank(best.Suite)) {
			best, found = r, true
		}
	}
	return best, found
}

// minKernelInstalledKiB separates packages that hold a kernel image from meta packages of the
// same name shape: a cloud vmlinuz alone is over 10 MiB (the arm64 one, uncompressed, 30 MiB),
// while the meta packages (the "linux-image-<ver>" of 6.19 and later,
// "linux-image-6.12-cloud-amd64") install a few KiB.
const minKernelInstalledKiB = 4096

// kernelCandidate reports whether a package holds a Debian cloud kernel image of architecture
// arch, and which upstream version: "linux-image-<abi>-cloud-<arch>" up to 6.18,
// "linux-binary-<abi>-cloud-<arch>" from 6.19 (the same names for amd64 and arm64). Unsigned
// twins (same kernel without the Secure Boot signature) and debug packages are left out so that
// each kernel build is one candidate.
func kernelCandidate(r pkgRecord, arch observation.Arch) (upstream string, ok bool) {
	flavour := "cloud-" + string(arch)
	name := r.Package
	var abi string
	switch {
	case strings.HasPrefix(name, "linux-image-"):
		abi = strings.TrimPrefix(name, "linux-image-")
	case strings.HasPrefix(name, "linux-binary-"):
		abi = strings.TrimPrefix(name, "linux-binary-")
	default:
		return "", false
	}
	if !strings.HasSuffix(abi, "-"+flavour) || strings.HasPrefix(abi, "unsigned-") || strings.HasPrefix(abi, flavour) {
		return "", false
	}
	if r.Architecture != string(arch) || r.InstalledSize < minKernelInstalledKiB {
		return "", false
	}
	up, err := kernelUpstreamVersion(r.Version)
	if err != nil {
		return "", false
	}
	return up, true
}

// resolve picks the newest kernel package of architecture arch of a series, or of one pinned
// upstream version, by Debian version order (so 6.1.192-2 from bookworm-security beats
// 6.1.180-1~deb11u1 from bullseye-security, and 7.3.4-1 beats 7.3~rc7-1~exp1).
func (idx *packageIndex) resolve(arch observation.Arch, series, version string) (pkgRecord, string, error) {
	var best pkgRecord
	var bestUp string
	found := false
	var seen []string
	for _, recs := range idx.byName {
		for _, r := range recs {
			up, ok := kernelCandidate(r, arch)
			if !ok || !inSeries(up, series) {
				continue
			}
			seen = append(seen, up)
			if version != "" && up != version {
				continue
			}
			c := 1
			if found {
				c = CompareDebianVersions(r.Version, best.Version)
				if c == 0 {
					// Same version under two names or suites: prefer the older suite (the stable
					// release over backports), then the name, so the result never depends on map order.
					switch {
					case suiteRank(r.Suite) != suiteRank(best.Suite):
						c = suiteRank(best.Suite) - suiteRank(r.Suite)
					default:
						c = strings.Compare(best.Package, r.Package)
					}
				}
			}
			if c > 0 {
				best, bestUp, found = r, up, true
			}
		}
	}
	if !found {
		if version != "" && len(seen) > 0 {
			return best, "", fmt.Errorf("no cloud-%s kernel %s in the Debian archive (series %s has %s): %w", arch, version, series, summarizeVersions(seen), ErrNotInIndex)
		}
		return best, "", fmt.Errorf("no cloud-%s kernel of series %s in the searched Debian suites: %w", arch, series, ErrNotInIndex)
	}
	return best, bestUp, nil
}

// summarizeVersions lists distinct versions, newest first, at most eight.
func summarizeVersions(vs []string) string {
	uniq := map[string]bool{}
	var out []string
	for _, v := range vs {
		if !uniq[v] {
			uniq[v] = true
			out = append(out, v)
		}
	}
	sortVersionsDesc(out)
	if len(out) > 8 {
		out = append(out[:8], "...")
	}
	return strings.Join(out, ", ")
}

// sortVersionsDesc sorts upstream kernel versions newest first; "7.3-rc7" is compared in its
// Debian spelling "7.3~rc7" so that it sorts before "7.3".
func sortVersionsDesc(vs []string) {
	sort.Slice(vs, func(i, j int) bool {
		return CompareDebianVersions(strings.Replace(vs[i], "-", "~", 1), strings.Replace(vs[j], "-", "~", 1)) > 0
	})
}

// exactDependency finds the exact-version dependency named prefix+"*" in a Depends field, e.g.
// "linux-base-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1)": the package that ships the config
// of 6.19 and later kernels.
func exactDependency(depends, prefix string) (pkg, version string, ok bool) {
	for _, alt := range strings.Split(depends, ",") {
		for _, d := range strings.Split(alt, "|") {
			d = strings.TrimSpace(d)
			name, rest, _ := strings.Cut(d, " ")
			rest = strings.TrimSpace(rest)
			if !strings.HasPrefix(name, prefix) || !strings.HasPrefix(rest, "(=") {
				continue
			}
			v := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(rest, "(="), ")"))
			return name, v, true
		}
	}
	return "", "", false
}
