package vmimages

import (
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// testIndex loads testdata/index/<suite>.Packages: real, trimmed archive stanzas of amd64.
func testIndex(t *testing.T) *packageIndex {
	t.Helper()
	return testIndexIn(t, filepath.Join("testdata", "index"))
}

// testIndexIn loads the <suite>.Packages files of dir.
func testIndexIn(t *testing.T, dir string) *packageIndex {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.Packages"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata index: %v", err)
	}
	idx := &packageIndex{}
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		suite := strings.TrimSuffix(filepath.Base(f), ".Packages")
		if err := idx.add(r, suite, f); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	return idx
}

func TestResolve(t *testing.T) {
	idx := testIndex(t)
	// The arm64 index holds the archive's arm64 stanzas beside the amd64 ones, as no real index
	// does: an arm64 resolve must never pick an amd64 package, nor the reverse.
	both := testIndexIn(t, filepath.Join("testdata", "index"))
	arm := testIndexIn(t, filepath.Join("testdata", "index", "arm64"))
	for name, recs := range arm.byName {
		both.byName[name] = append(both.byName[name], recs...)
	}
	tests := []struct {
		arch            observation.Arch
		series, version string
		pkg, debVer     string
		upstream, suite string
		wantErr         string
	}{
		// 5.10: ABI-named package; bullseye-security's build beats bullseye's; -unsigned and -dbg are not candidates.
		{series: "5.10", pkg: "linux-image-5.10.0-46-cloud-amd64", debVer: "5.10.262-1", upstream: "5.10.262", suite: "bullseye-security"},
		{series: "5.10", version: "5.10.223", pkg: "linux-image-5.10.0-32-cloud-amd64", debVer: "5.10.223-1", upstream: "5.10.223", suite: "bullseye"},
		// 6.1: bookworm-security's 6.1.192-2 beats bullseye-security's 6.1.180-1~deb11u1; the 6.1 meta package is not a candidate.
		{series: "6.1", pkg: "linux-image-6.1.0-56-cloud-amd64", debVer: "6.1.192-2", upstream: "6.1.192", suite: "bookworm-security"},
		{series: "6.1", version: "6.1.180", pkg: "linux-image-6.1.0-0.deb11.52-cloud-amd64", debVer: "6.1.180-1~deb11u1", upstream: "6.1.180", suite: "bullseye-security"},
		// 6.12: +deb13 6.12.118 newest; pinning 6.12.117 picks the trixie build (6.12.117-1) over bookworm's 6.12.117-1~deb12u1.
		{series: "6.12", pkg: "linux-image-6.12.118+deb13-cloud-amd64", debVer: "6.12.118-1", upstream: "6.12.118", suite: "trixie-security"},
		{series: "6.12", version: "6.12.117", pkg: "linux-image-6.12.117+deb13-cloud-amd64", debVer: "6.12.117-1", upstream: "6.12.117", suite: "trixie"},
		// 7.x: the image is in linux-binary-*; the 15 KiB linux-image-* meta package and the unsigned twin are not candidates.
		{series: "7.0", pkg: "linux-binary-7.0.13+deb13-cloud-amd64", debVer: "7.0.13-1~bpo13+1", upstream: "7.0.13", suite: "trixie-backports"},
		{series: "7.3", pkg: "linux-binary-7.3.4+deb13-cloud-amd64", debVer: "7.3.4-1~bpo13+1", upstream: "7.3.4", suite: "trixie-backports"},
		{series: "7.3", version: "7.3-rc7", pkg: "linux-binary-7.3-cloud-amd64", debVer: "7.3~rc7-1~exp1", upstream: "7.3-rc7", suite: "experimental"},
		{series: "4.19", wantErr: "no cloud-amd64 kernel of series 4.19"},
		{series: "6.12", version: "6.12.1", wantErr: "no cloud-amd64 kernel 6.12.1 in the Debian archive (series 6.12 has 6.12.118, 6.12.117)"},
		// arm64: the same package names with -cloud-arm64, the same layouts and suites.
		{arch: "arm64", series: "6.12", pkg: "linux-image-6.12.118+deb13-cloud-arm64", debVer: "6.12.118-1", upstream: "6.12.118", suite: "trixie-security"},
		{arch: "arm64", series: "6.12", version: "6.12.117", pkg: "linux-image-6.12.117+deb13-cloud-arm64", debVer: "6.12.117-1", upstream: "6.12.117", suite: "trixie"},
		{arch: "arm64", series: "6.19", pkg: "linux-binary-6.19.14+deb13-cloud-arm64", debVer: "6.19.14-1~bpo13+1", upstream: "6.19.14", suite: "trixie-backports"},
		{arch: "arm64", series: "7.3", pkg: "linux-binary-7.3.4+deb13-cloud-arm64", debVer: "7.3.4-1~bpo13+1", upstream: "7.3.4", suite: "trixie-backports"},
		{arch: "arm64", series: "7.3", version: "7.3-rc7", pkg: "linux-binary-7.3-cloud-arm64", debVer: "7.3~rc7-1~exp1", upstream: "7.3-rc7", suite: "experimental"},
		{arch: "arm64", series: "5.10", wantErr: "no cloud-arm64 kernel of series 5.10"},
		{arch: "arm64", series: "6.12", version: "6.12.1", wantErr: "no cloud-arm64 kernel 6.12.1 in the Debian archive (series 6.12 has 6.12.118, 6.12.117)"},
	}
	for _, tt := range tests {
		if tt.arch == "" {
			tt.arch = observation.ArchAMD64
		}
		idx := idx
		if tt.arch == observation.ArchARM64 {
			idx = both
		}
		rec, up, err := idx.resolve(tt.arch, tt.series, tt.version)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrNotInIndex) {
				t.Errorf("resolve(%s, %s) error = %v, want %q", tt.series, tt.version, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("resolve(%s, %s): %v", tt.series, tt.version, err)
			continue
		}
		if rec.Package != tt.pkg || rec.Version != tt.debVer || up != tt.upstream || rec.Suite != tt.suite {
			t.Errorf("resolve(%s, %s) = %s %s %s (%s), want %s %s %s (%s)", tt.series, tt.version, rec.Package, rec.Version, up, rec.Suite, tt.pkg, tt.debVer, tt.upstream, tt.suite)
		}
		if !files.IsSHA256(rec.SHA256) || rec.Size == 0 {
			t.Errorf("resolve(%s): record lacks sha256/size: %+v", tt.series, rec)
		}
	}
}

func TestKernelCandidate(t *testing.T) {
	big := int64(minKernelInstalledKiB)
	tests := []struct {
		rec  pkgRecord
		want bool
	}{
		{pkgRecord{Package: "linux-image-6.12.117+deb13-cloud-amd64", Version: "6.12.117-1", Architecture: "amd64", InstalledSize: big}, true},
		{pkgRecord{Package: "linux-binary-7.3.4+deb13-cloud-amd64", Version: "7.3.4-1", Architecture: "amd64", InstalledSize: big}, true},
		{pkgRecord{Package: "linux-image-7.3.4+deb13-cloud-amd64", Version: "7.3.4-1", Architecture: "amd64", InstalledSize: 15}, false}, // meta
		{pkgRecord{Package: "linux-binary-unsigned-7.3.4+deb13-cloud-amd64", Version: "7.3.4-1", Architecture: "amd64", InstalledSize: big}, false},
		{pkgRecord{Package: "linux-image-5.10.0-46-cloud-amd64-unsigned", Version: "5.10.262-1", Architecture: "amd64", InstalledSize: big}, false},
		{pkgRecord{Package: "linux-image-5.10.0-46-cloud-amd64-dbg", Version: "5.10.262-1", Architecture: "amd64", InstalledSize: big}, false},
		{pkgRecord{Package: "linux-image-cloud-amd64", Version: "6.12.117-1", Architecture: "amd64", InstalledSize: big}, false},
		{pkgRecord{Package: "linux-image-6.12.117+deb13-amd64", Version: "6.12.117-1", Architecture: "amd64", InstalledSize: big}, false}, // not the cloud flavour
		{pkgRecord{Package: "linux-image-6.12.117+deb13-cloud-amd64", Version: "6.12.117-1", Architecture: "arm64", InstalledSize: big}, false},
		{pkgRecord{Package: "linux-base-7.3.4+deb13-cloud-amd64", Version: "7.3.4-1", Architecture: "amd64", InstalledSize: big}, false},
	}
	for _, tt := range tests {
		if _, got := kernelCandidate(tt.rec, observation.ArchAMD64); got != tt.want {
			t.Errorf("kernelCandidate(%s) = %v, want %v", tt.rec.Package, got, tt.want)
		}
		// The same record renamed and relabelled for arm64 is an arm64 candidate exactly when it
		// was an amd64 one.
		arm := tt.rec
		arm.Package = strings.ReplaceAll(arm.Package, "amd64", "arm64")
		arm.Architecture = map[string]string{"amd64": "arm64", "arm64": "amd64"}[arm.Architecture]
		if _, got := kernelCandidate(arm, observation.ArchARM64); got != tt.want {
			t.Errorf("kernelCandidate(%s, arm64) = %v, want %v", arm.Package, got, tt.want)
		}
		if _, got := kernelCandidate(arm, observation.ArchAMD64); got {
			t.Errorf("kernelCandidate(%s, amd64) = true, want false", arm.Package)
		}
	}
}

func TestExactDependency(t *testing.T) {
	tests := []struct {
		depends, pkg, ver string
		ok                bool
	}{
		{"linux-base-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1)", "linux-base-7.3.4+deb13-cloud-amd64", "7.3.4-1~bpo13+1", true},
		{"dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, kmod, linux-base-6.18.15+deb13-cloud-amd64 (= 6.18.15-1~bpo13+1)", "linux-base-6.18.15+deb13-cloud-amd64", "6.18.15-1~bpo13+1", true},
		{"kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		pkg, ver, ok := exactDependency(tt.depends, "linux-base-")
		if pkg != tt.pkg || ver != tt.ver || ok != tt.ok {
			t.Errorf("exactDependency(%q) = %q %q %v, want %q %q %v", tt.depends, pkg, ver, ok, tt.pkg, tt.ver, tt.ok)
		}
	}
}

// TestCompareMatchesDpkg checks the version order against dpkg itself for every version in the
// test index, when dpkg is installed.
func TestCompareMatchesDpkg(t *testing.T) {
	testenv.NeedCommand(t, "dpkg", "dpkg")
	idx := testIndex(t)
	seen := map[string]bool{}
	for _, recs := range idx.byName {
		for _, r := range recs {
			seen[r.Version] = true
		}
	}
	versions := slices.Sorted(maps.Keys(seen))
	for i, a := range versions {
		for _, b := range versions[i+1:] {
			want := 0
			switch {
			case exec.Command("dpkg", "--compare-versions", a, "lt", b).Run() == nil:
				want = -1
			case exec.Command("dpkg", "--compare-versions", a, "gt", b).Run() == nil:
				want = 1
			}
			if got := CompareDebianVersions(a, b); got != want {
				t.Errorf("CompareDebianVersions(%q, %q) = %d, dpkg says %d", a, b, got, want)
			}
		}
	}
}
