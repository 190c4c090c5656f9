package vmimages

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// fakeAptScript stands in for apt-get so that the apt driver's reaction to apt's failures can be
// tested without an archive. FAKE_APT_UPDATE chooses what "update" does: "partial" (one suite
// fetched, another failing with an E: line and exit 100, as a security mirror that is down or a
// full disk produces), "nospace" (the same with apt's ENOSPC message), "hang" (apt-get waiting
// forever), "fillhang" (filling the disk and then waiting forever, as apt-get was seen doing on a
// full tmpfs), "tmpfail" (leaving a temporary file in $TMPDIR and failing, as apt's signature
// check does when it dies) or "ok". With FAKE_APT_LOG set, each call appends its subcommand there;
// FAKE_APT_SLOW makes downloads take a second. "indextargets" lists the Packages files
// in the lists directory; "download" copies $FAKE_APT_DEBS/<pkg>_<version>_amd64.deb.
const fakeAptScript = `#!/bin/sh
lists=
while [ $# -gt 0 ]; do
	case "$1" in
	-o) case "$2" in Dir::State::Lists=*) lists=${2#Dir::State::Lists=} ;; esac; shift 2 ;;
	*) break ;;
	esac
done
sub=$1; shift
[ -n "$FAKE_APT_LOG" ] && echo "$sub" >> "$FAKE_APT_LOG"
case "$sub" in
update)
	case "$FAKE_APT_UPDATE" in
	hang) echo "Get:1 http://archive.invalid/debian bullseye InRelease"; sleep 600 ;;
	fillhang)
		echo "Get:1 http://archive.invalid/debian bullseye InRelease"
		dd if=/dev/zero of="$lists/partial/fill" bs=65536 2>/dev/null
		sleep 600 ;;
	tmpfail)
		# apt's signature check leaves its temporary files when it is killed or fails.
		mktemp "${TMPDIR:-/tmp}/apt.sig.XXXXXX" >/dev/null
		echo "Err:1 http://archive.invalid/debian bullseye InRelease"
		echo "E: Failed to fetch http://archive.invalid/debian/dists/bullseye/InRelease"
		exit 100 ;;
	nospace)
		echo "Get:1 http://archive.invalid/debian bullseye InRelease"
		echo "E: Write error - write (28: No space left on device)"
		exit 100 ;;
	*)
		mkdir -p "$lists"
		cp "$FAKE_APT_INDEX" "$lists/bullseye_Packages"
		echo "Get:1 http://archive.invalid/debian bullseye InRelease"
		if [ "$FAKE_APT_UPDATE" = partial ]; then
			echo "Err:2 http://security.invalid/debian-security bullseye-security InRelease"
			echo "E: Failed to fetch http://security.invalid/debian-security/dists/bullseye-security/InRelease  500  Internal Server Error"
			exit 100
		fi ;;
	esac ;;
indextargets)
	for f in "$lists"/*_Packages; do
		[ -e "$f" ] && printf '%s\t%s\n' "$f" "$(basename "$f" _Packages)"
	done ;;
download)
	pkg=${1%%=*}; ver=${1#*=}
	[ -n "$FAKE_APT_SLOW" ] && sleep 1
	cp "$FAKE_APT_DEBS/${pkg}_${ver}_amd64.deb" . || { echo "E: Unable to locate package $pkg"; exit 100; } ;;
*) echo "fake apt-get: $sub not faked" >&2; exit 1 ;;
esac
`

// fakeApt puts a fake apt-get and apt-config first on PATH and returns a Fetcher whose archive
// comes from the environment overrides, so that nothing reads the machine's apt configuration.
func fakeApt(t *testing.T, updateMode string) *Fetcher {
	t.Helper()
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "apt-get"), fakeAptScript)
	writeFile(t, filepath.Join(bin, "apt-config"), "#!/bin/sh\necho 'Acquire::Retries \"0\";'\n")
	for _, f := range []string{"apt-get", "apt-config"} {
		if err := os.Chmod(filepath.Join(bin, f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_APT_UPDATE", updateMode)
	t.Setenv("FAKE_APT_INDEX", filepath.Join(mustAbs(t, "testdata"), "index", "bullseye.Packages"))
	keyring := filepath.Join(t.TempDir(), "keyring.gpg")
	writeFile(t, keyring, "")
	env := map[string]string{
		EnvDebianMirror:         "http://archive.invalid/debian",
		EnvDebianSecurityMirror: "http://security.invalid/debian-security",
		EnvDebianKeyring:        keyring,
	}
	return &Fetcher{
		CacheDir:       t.TempDir(),
		Getenv:         func(k string) string { return env[k] },
		AptSourcesList: filepath.Join(t.TempDir(), "none.list"),
		AptSourceParts: filepath.Join(t.TempDir(), "none.d"),
		Progress:       testWriter{t},
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// fetchWithin runs Fetch on a one-kernel kernels file and fails the test, instead of hanging it,
// when Fetch has not returned after limit: the bugs these tests guard against are hangs.
func fetchWithin(t *testing.T, ctx context.Context, f *Fetcher, limit time.Duration) ([]Image, error) {
	t.Helper()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "kernels.yaml", "kernels:\n  - name: \"5.10\"\n    debian: {series: \"5.10\"}\n  - name: \"5.10-old\"\n    debian: {series: \"5.10\", version: \"5.10.223\"}\n")
	var imgs []Image
	err := testenv.Within(t, "Fetch (it hangs)", limit, func() (err error) {
		imgs, err = f.Fetch(ctx, cfg.Entries)
		return err
	})
	return imgs, err
}

// TestFaultAptPartialUpdate is the bug report's hang: apt-get update fetched one suite
// and failed another, and update, holding the apt lock, asked for the index files through a path
// that takes the same lock again.
func TestFaultAptPartialUpdate(t *testing.T) {
	f := fakeApt(t, "partial")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f.Parallel = 2
	_, err := fetchWithin(t, ctx, f, 20*time.Second)
	// The fake index holds the kernels, but the fake apt has no packages to download.
	if err == nil || !strings.Contains(err.Error(), "download linux-image-5.10.0-") {
		t.Errorf("error = %v, want the download to fail after a usable update", err)
	}
}

// TestFaultFetchCancel cancels a fetch whose apt-get update never finishes while a second
// kernel waits for the same package index: both must end promptly.
func TestFaultFetchCancel(t *testing.T) {
	f := fakeApt(t, "hang")
	f.Parallel = 2
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	_, err := fetchWithin(t, ctx, f, 15*time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Fetch took %v after cancellation", d)
	}
}

// TestFaultFetchCacheFullMessage checks that apt's ENOSPC message becomes an error naming the cache
// directory rather than a list of apt lines.
func TestFaultFetchCacheFullMessage(t *testing.T) {
	f := fakeApt(t, "nospace")
	_, err := fetchWithin(t, context.Background(), f, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "cache directory "+f.CacheDir+" is full") {
		t.Errorf("error = %v, want it to name the full cache directory %s", err, f.CacheDir)
	}
}

// TestFaultFetchCacheFillsUp is the bug report's 5 MB tmpfs: apt-get fills the cache's file system and
// then waits forever. The fetch must end with an error naming the cache directory. Mounting the
// small file system needs root.
func TestFaultFetchCacheFillsUp(t *testing.T) {
	f := fakeApt(t, "fillhang")
	mountTmpfs(t, f.CacheDir, "2m")
	start := time.Now()
	_, err := fetchWithin(t, context.Background(), f, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "cache directory "+f.CacheDir+" is full") || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("error = %v, want it to name the full cache directory %s", err, f.CacheDir)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Fetch took %v to notice the full cache", d)
	}
}

// TestListsFreshPerSources checks that lists refreshed for one mirror do not count as fresh for
// another, even after the private configuration for the new mirror has been written (which a
// pinned download does before any update).
func TestListsFreshPerSources(t *testing.T) {
	fakeApt(t, "ok")
	dir := filepath.Join(t.TempDir(), "apt")
	a := &apt{dir: dir, archive: DebianArchive{Mirror: "http://one.invalid/debian", Keyring: "/dev/null"}}
	if _, err := a.update(context.Background(), false, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if !a.fresh() {
		t.Fatal("lists just refreshed are not fresh")
	}
	b := &apt{dir: dir, archive: DebianArchive{Mirror: "http://two.invalid/debian", Keyring: "/dev/null"}}
	if err := b.prepareOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b.fresh() {
		t.Error("lists of another mirror count as fresh")
	}
}

// mountTmpfs mounts a tmpfs of the given size on dir for the rest of the test, skipping the test
// where that is not allowed: a real full file system is the only faithful way to test ENOSPC.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	testenv.NeedRoot(t)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Need(t, fmt.Errorf("cannot mount a tmpfs: %v: %s", err, out), "run as root where mount works")
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
}

// fillDisk writes a file into dir until its file system is full.
func fillDisk(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}
