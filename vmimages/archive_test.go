package vmimages

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/kconfig"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// archiveCache is where the network test keeps apt lists and packages: a temporary directory,
// so that the test never writes into the user's cache, or BPFMATRIX_TEST_CACHE to keep them
// between runs.
func archiveCache(t *testing.T) string {
	if d := os.Getenv("BPFMATRIX_TEST_CACHE"); d != "" {
		return d
	}
	return t.TempDir()
}

// TestRealArchive resolves the newest 5.10 and 7.3 builds from the real Debian archive (through
// this machine's apt configuration, or BPFMATRIX_DEBIAN_MIRROR) and fetches the 7.3 image
// (about 15 MB, with about 80 MB of apt lists), into a temporary cache unless
// BPFMATRIX_TEST_CACHE names one. It runs only when BPFMATRIX_TEST_NETWORK is set (.ci/run sets
// it), and then an archive it cannot reach is a failure.
func TestRealArchive(t *testing.T) {
	testenv.NeedNetwork(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := &Fetcher{CacheDir: archiveCache(t), Progress: testWriter{t}}
	run := &fetchRun{f: f, cache: imageCache{dir: f.CacheDir}, lock: &Lock{}}
	idx, err := run.packageIndex(ctx)
	if err != nil {
		t.Fatalf("Debian archive: %v", err)
	}
	tests := []struct {
		series  string
		pkg     *regexp.Regexp
		atLeast string // upstream version known to be served
	}{
		{"5.10", regexp.MustCompile(`^linux-image-5\.10\.0-[0-9]+-cloud-amd64$`), "5.10.223"},
		{"7.3", regexp.MustCompile(`^linux-binary-7\.3[0-9.]*(\+deb[0-9]+)?-cloud-amd64$`), "7.3.4"},
	}
	for _, tt := range tests {
		rec, up, err := idx.resolve(observation.ArchAMD64, tt.series, "")
		if err != nil {
			t.Errorf("resolve %s: %v", tt.series, err)
			continue
		}
		t.Logf("newest %s: %s %s (%s), upstream %s, %.1f MB", tt.series, rec.Package, rec.Version, rec.Suite, up, float64(rec.Size)/1e6)
		if !tt.pkg.MatchString(rec.Package) {
			t.Errorf("series %s resolved to package %s, want one matching %s", tt.series, rec.Package, tt.pkg)
		}
		if CompareDebianVersions(strings.Replace(up, "-", "~", 1), tt.atLeast) < 0 {
			t.Errorf("series %s resolved to %s, older than %s which the archive serves", tt.series, up, tt.atLeast)
		}
	}

	// End to end for one kernel: download, extract, cache, lock.
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "kernels.yaml", "kernels:\n  - name: \"7.3\"\n    debian: {series: \"7.3\"}\n")
	imgs, err := f.Fetch(ctx, cfg.Entries)
	if err != nil {
		t.Fatal(err)
	}
	img := imgs[0]
	if hdr, ok, err := bzImageRelease(img.Path); err != nil || !ok || hdr != img.Release {
		t.Errorf("vmlinuz header release %q (%v, %v), image says %q", hdr, ok, err, img.Release)
	}
	if !strings.HasPrefix(img.Release, img.Version) || img.ConfigPath == "" {
		t.Errorf("image = %+v", img)
	}
	opts, err := kconfig.Read(img.ConfigPath)
	if err != nil || opts["CONFIG_BPF_SYSCALL"] != "y" {
		t.Errorf("config: CONFIG_BPF_SYSCALL=%q, %v", opts["CONFIG_BPF_SYSCALL"], err)
	}
	lock, err := LoadLock(cfg.LockPath())
	if err != nil || lock.Find("7.3") == nil || lock.Find("7.3").SHA256 != img.SHA256 || lock.Find("7.3").Package != img.Package {
		t.Errorf("lock = %+v, %v", lock, err)
	}
}
