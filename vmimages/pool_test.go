package vmimages

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// poolFixture is a pinned 5.10 whose package is not cached: an HTTP archive serves it at its pool
// path, and the fake apt-get (see fakeApt) has it too, for the way through the index.
type poolFixture struct {
	f        *Fetcher
	cfg      *Config
	lockPath string
	aptLog   string
	requests atomic.Int64
	serve    func(w http.ResponseWriter, deb []byte) // what the archive answers for the package
	pool     string
}

const poolFixtureRelease = "5.10.0-98-cloud-amd64"

// newPoolFixture pins the fixture's kernel, with its pool path in kernels.lock when withPath.
func newPoolFixture(t *testing.T, withPath bool) *poolFixture {
	t.Helper()
	const pkg, ver = "linux-image-" + poolFixtureRelease, "5.10.998-1"
	files := layoutImage(t, poolFixtureRelease, "pool", false)
	built := buildDeb(t, pkg, ver, files)
	deb, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	fx := &poolFixture{pool: "pool/main/l/linux-signed-amd64/" + pkg + "_" + ver + "_amd64.deb"}
	fx.serve = func(w http.ResponseWriter, deb []byte) { w.Write(deb) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fx.requests.Add(1)
		if r.URL.Path != "/debian-security/"+fx.pool {
			http.NotFound(w, r)
			return
		}
		fx.serve(w, deb)
	}))
	t.Cleanup(srv.Close)

	fx.f = fakeApt(t, "ok")
	keyring := fx.f.Getenv(EnvDebianKeyring)
	env := map[string]string{
		EnvDebianMirror:         srv.URL + "/debian",
		EnvDebianSecurityMirror: srv.URL + "/debian-security",
		EnvDebianKeyring:        keyring,
	}
	fx.f.Getenv = func(k string) string { return env[k] }
	debs := t.TempDir()
	writeFile(t, filepath.Join(debs, pkg+"_"+ver+"_amd64.deb"), string(deb))
	t.Setenv("FAKE_APT_DEBS", debs)
	fx.aptLog = filepath.Join(t.TempDir(), "apt.log")
	t.Setenv("FAKE_APT_LOG", fx.aptLog)
	index := filepath.Join(t.TempDir(), "Packages")
	writeFile(t, index, fmt.Sprintf("Package: %s\nVersion: %s\nInstalled-Size: 82624\nArchitecture: amd64\nFilename: %s\nSize: %d\nSHA256: %s\n\n",
		pkg, ver, fx.pool, len(deb), sha256Bytes(deb)))
	t.Setenv("FAKE_APT_INDEX", index)

	dir := t.TempDir()
	fx.cfg = writeConfig(t, dir, "kernels.yaml", "kernels:\n  - name: \"5.10\"\n    debian: {series: \"5.10\"}\n")
	le := LockEntry{
		Name: "5.10", Source: "debian series=5.10", Version: "5.10.998", Release: poolFixtureRelease,
		SHA256: sha256Bytes(files["boot/vmlinuz-"+poolFixtureRelease]), Package: pkg, DebianVersion: ver,
		Suite: "bullseye-security", DebSHA256: sha256Bytes(deb),
	}
	if withPath {
		le.DebPath = fx.pool
	}
	lock := &Lock{Path: filepath.Join(dir, "kernels.lock"), Entries: []LockEntry{le}}
	if err := lock.Write(); err != nil {
		t.Fatal(err)
	}
	fx.lockPath = lock.Path
	return fx
}

// aptCalls returns the apt-get subcommands the fetch ran.
func (fx *poolFixture) aptCalls(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(fx.aptLog)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(data)), " ")
}

// TestFetchPoolPath fetches a pinned kernel whose package is not cached: with its pool path in
// kernels.lock it is downloaded straight from the archive (no apt-get at all, so no package index
// to read first); when the archive does not serve it or serves other bytes, the fetch goes
// through the index as it does for a pin without a path; a pin without a path gets one from
// the index it had to read.
func TestFetchPoolPath(t *testing.T) {
	tests := []struct {
		name      string
		withPath  bool
		serve     func(w http.ResponseWriter, deb []byte)
		viaIndex  bool // apt-get downloads the package
		wantInLog string
	}{
		{name: "from the pool", withPath: true, viaIndex: false, wantInLog: "downloaded " + "linux-image-" + poolFixtureRelease},
		{name: "not served", withPath: true, serve: func(w http.ResponseWriter, _ []byte) { http.Error(w, "gone", http.StatusNotFound) },
			viaIndex: true, wantInLog: "404 Not Found: downloading through the package index"},
		{name: "other bytes", withPath: true, serve: func(w http.ResponseWriter, deb []byte) { w.Write(deb[:len(deb)/2]) },
			viaIndex: true, wantInLog: "kernels.lock pins"},
		{name: "no path pinned", withPath: false, viaIndex: true, wantInLog: "downloaded "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newPoolFixture(t, tt.withPath)
			if tt.serve != nil {
				fx.serve = tt.serve
			}
			var progress strings.Builder
			fx.f.Progress = &progress
			imgs, err := fx.f.Fetch(context.Background(), fx.cfg.Entries)
			if err != nil || len(imgs) != 1 || imgs[0].Release != poolFixtureRelease {
				t.Fatalf("Fetch = %+v, %v\n%s", imgs, err, progress.String())
			}
			if got := fx.aptCalls(t); strings.Contains(got, "download") != tt.viaIndex || (!tt.viaIndex && got != "") {
				t.Errorf("apt-get ran %q; through the index: %v\n%s", got, tt.viaIndex, progress.String())
			}
			if !strings.Contains(progress.String(), tt.wantInLog) {
				t.Errorf("progress does not say %q:\n%s", tt.wantInLog, progress.String())
			}
			lock, err := LoadLock(fx.lockPath)
			if err != nil {
				t.Fatal(err)
			}
			if le := lock.Find("5.10"); le == nil || le.DebPath != fx.pool {
				t.Errorf("kernels.lock pins %+v, want deb_path %s", le, fx.pool)
			}
			leftovers, _ := filepath.Glob(filepath.Join(fx.f.CacheDir, "debs", downloadPrefix+"*"))
			if len(leftovers) > 0 {
				t.Errorf("download directories left behind: %v", leftovers)
			}
		})
	}
}

// TestFaultPoolStall is an archive that sends part of the package and then nothing: the direct
// download gives up after poolStallTimeout and the fetch goes through the index.
func TestFaultPoolStall(t *testing.T) {
	old := poolStallTimeout
	poolStallTimeout = 600 * time.Millisecond
	t.Cleanup(func() { poolStallTimeout = old })
	fx := newPoolFixture(t, true)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	fx.serve = func(w http.ResponseWriter, deb []byte) {
		w.Write(deb[:1024])
		w.(http.Flusher).Flush()
		<-release
	}
	var progress strings.Builder
	fx.f.Progress = &progress
	start := time.Now()
	imgs, err := fx.f.Fetch(context.Background(), fx.cfg.Entries)
	if err != nil || len(imgs) != 1 {
		t.Fatalf("Fetch = %+v, %v\n%s", imgs, err, progress.String())
	}
	if !strings.Contains(progress.String(), "no data for 600ms: downloading through the package index") {
		t.Errorf("progress does not name the stall:\n%s", progress.String())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the stalled download held the fetch for %v", d)
	}
}
