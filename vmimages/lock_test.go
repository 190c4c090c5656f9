package vmimages

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

const sumA = "2e141d21dc8fa57e2ab27a7d3757c058d9405b5c27e86707497ce915cc615c1b"
const sumB = "18d94781d1b3052e21967ac2262239e5f14fbf511d6c3e110629d7aa35340760"

func TestLockRoundTrip(t *testing.T) {
	l := &Lock{Path: filepath.Join(t.TempDir(), "kernels.lock"), Entries: []LockEntry{
		{Name: "5.10", Source: "debian series=5.10", Version: "5.10.262", Release: "5.10.0-46-cloud-amd64", SHA256: sumA,
			Package: "linux-image-5.10.0-46-cloud-amd64", DebianVersion: "5.10.262-1", Suite: "bullseye-security", DebSHA256: sumB},
		{Name: "7.3", Source: "debian series=7.3", Version: "7.3.4", Release: "7.3.4+deb13-cloud-amd64", SHA256: sumB,
			Package: "linux-binary-7.3.4+deb13-cloud-amd64", DebianVersion: "7.3.4-1~bpo13+1", Suite: "trixie-backports", DebSHA256: sumA,
			DebPath:       "pool/main/l/linux-signed-amd64/linux-binary-7.3.4+deb13-cloud-amd64_7.3.4-1~bpo13+1_amd64.deb",
			ConfigPackage: "linux-base-7.3.4+deb13-cloud-amd64", ConfigDebSHA256: sumB,
			ConfigDebPath: "pool/main/l/linux/linux-base-7.3.4+deb13-cloud-amd64_7.3.4-1~bpo13+1_amd64.deb"},
		{Name: "mine", Source: "path ./bzImage", Version: "6.13.0", Release: "6.13.0-rc1+", SHA256: sumA},
		{Name: "7.3", Arch: observation.ArchARM64, Source: "debian series=7.3", Version: "7.3.4", Release: "7.3.4+deb13-cloud-arm64", SHA256: sumA,
			Package: "linux-binary-7.3.4+deb13-cloud-arm64", DebianVersion: "7.3.4-1~bpo13+1", Suite: "trixie-backports", DebSHA256: sumB},
	}}
	if err := l.Write(); err != nil {
		t.Fatal(err)
	}
	got, err := LoadLock(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != len(l.Entries) {
		t.Fatalf("got %d entries", len(got.Entries))
	}
	for i := range l.Entries {
		w, g := l.Entries[i], got.Entries[i]
		g.Line = 0
		if w != g {
			t.Errorf("entry %d: got %+v, want %+v", i, g, w)
		}
	}
	if string(got.Marshal()) != string(l.Marshal()) {
		t.Error("Marshal is not stable across a round trip")
	}
	if le := got.Find("7.3"); le == nil || le.Line != 14 || le.Arch != "" {
		t.Errorf("Find(7.3) = %+v, want the amd64 entry at line 14", le)
	}
	if le := got.FindArch("7.3", observation.ArchARM64); le == nil || le.Line != 32 || le.Package != "linux-binary-7.3.4+deb13-cloud-arm64" {
		t.Errorf("FindArch(7.3, arm64) = %+v, want the arm64 entry at line 32", le)
	}
	if le := got.FindArch("5.10", observation.ArchARM64); le != nil {
		t.Errorf("FindArch(5.10, arm64) = %+v, want none: 5.10 is pinned for amd64 only", le)
	}
	text := string(got.Marshal())
	if n := strings.Count(text, "arch:"); n != 1 || !strings.Contains(text, "  - name: \"7.3\"\n    arch: \"arm64\"\n    source:") {
		t.Errorf("Marshal wrote %d arch lines, want one, right after the arm64 pin's name:\n%s", n, text)
	}
}

// TestCommittedLockRoundTrip checks that the repository's kernels.lock, amd64 pins and arm64
// pins alike, is written back byte for byte: `kernels fetch` of a pinned kernel changes nothing.
func TestCommittedLockRoundTrip(t *testing.T) {
	data, err := os.ReadFile("../kernels.lock")
	if err != nil {
		t.Fatal(err)
	}
	l, err := ParseLock(data, "kernels.lock")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Marshal(); string(got) != string(data) {
		t.Errorf("kernels.lock written back differs from the committed file:\n%s", got)
	}
	amd := &Lock{}
	for _, e := range l.Entries {
		if e.Arch == "" {
			amd.Entries = append(amd.Entries, e)
		}
	}
	if strings.Contains(string(amd.Marshal()), "arch:") {
		t.Error("amd64 pins were written with an arch line")
	}
}

func TestLoadLockMissing(t *testing.T) {
	l, err := LoadLock(filepath.Join(t.TempDir(), "kernels.lock"))
	if err != nil || len(l.Entries) != 0 {
		t.Fatalf("missing lock = %+v, %v; want empty lock", l, err)
	}
}

func TestFaultLockParse(t *testing.T) {
	entry := func(extra string) string {
		return "kernels:\n  - name: \"5.10\"\n    source: \"debian series=5.10\"\n    version: \"5.10.262\"\n    release: \"5.10.0-46-cloud-amd64\"\n    vmlinuz_sha256: \"" + sumA + "\"\n    package: \"linux-image-5.10.0-46-cloud-amd64\"\n    debian_version: \"5.10.262-1\"\n    suite: \"bullseye-security\"\n    deb_sha256: \"" + sumB + "\"\n" + extra
	}
	if _, err := ParseLock([]byte(entry("")), "kernels.lock"); err != nil {
		t.Fatalf("valid lock: %v", err)
	}
	tests := []struct{ name, src, want string }{
		{"unknown key", entry("    flavour: \"rt\"\n"), `kernels.lock:11: unknown key "flavour"`},
		{"duplicate", entry("  - name: \"5.10\"\n    source: \"path /x\"\n    release: \"5.10.0\"\n    vmlinuz_sha256: \"" + sumA + "\"\n"), `kernels.lock:11: kernel "5.10" is pinned twice (first at line 2)`},
		{"bad sha", strings.Replace(entry(""), sumA, "abc", 1), `kernels.lock:6: kernel "5.10": vmlinuz_sha256 "abc" is not a sha256`},
		{"upper-case sha", strings.Replace(entry(""), sumB, strings.ToUpper(sumB), 1), `kernels.lock:10: kernel "5.10": deb_sha256`},
		{"missing package", strings.Replace(entry(""), "    package: \"linux-image-5.10.0-46-cloud-amd64\"\n", "", 1), `kernels.lock:2: kernel "5.10": missing package`},
		{"bad release", strings.Replace(entry(""), "5.10.0-46-cloud-amd64\"", "../etc\"", 1), `kernels.lock:5: kernel "5.10": release "../etc"`},
		{"bad debian version", strings.Replace(entry(""), "5.10.262-1", "x5", 1), `kernels.lock:8: kernel "5.10": debian version "x5"`},
		{"config pair", entry("    config_package: \"linux-base-x\"\n"), "config_package and config_deb_sha256 go together"},
		{"modules pair", entry("    modules_package: \"linux-modules-x\"\n"), "modules_package and modules_deb_sha256 go together"},
		{"modules sha256", entry("    modules_package: \"linux-modules-x\"\n    modules_deb_sha256: \"abc\"\n"), "modules_deb_sha256 \"abc\" is not a sha256"},
		{"pool path outside the pool", entry("    deb_path: \"../../etc/passwd.deb\"\n"), `kernels.lock:11: kernel "5.10": deb_path "../../etc/passwd.deb" is not a .deb path of the archive's pool`},
		{"pool path climbing", entry("    deb_path: \"pool/main/../../x.deb\"\n"), `deb_path "pool/main/../../x.deb" is not a .deb path`},
		{"pool path not a deb", entry("    deb_path: \"pool/main/l/linux/x.tar\"\n"), `deb_path "pool/main/l/linux/x.tar" is not a .deb path`},
		{"kfunc modules", entry("    kfunc_modules: \"nf_nat  tcp_bbr\"\n"), `kernels.lock:11: kernel "5.10": kfunc_modules "nf_nat  tcp_bbr": "" is not a module name`},
		{"kfunc modules path", entry("    kfunc_modules: \"../x\"\n"), `kfunc_modules "../x": "../x" is not a module name`},
		{"pool path alone", entry("    modules_deb_path: \"pool/main/l/linux/m.deb\"\n"), `kernels.lock:11: kernel "5.10": modules_deb_path without modules_package`},
		{"unknown arch", entry("    arch: \"riscv64\"\n"), `kernels.lock:11: kernel "5.10": unknown architecture "riscv64"`},
		{"explicit amd64", entry("    arch: \"amd64\"\n"), `kernels.lock:11: kernel "5.10": arch "amd64" is what a pin without the key means`},
		{"duplicate arm64", entry("  - name: \"5.10\"\n    arch: \"arm64\"\n    source: \"path /x\"\n    release: \"5.10.0\"\n    vmlinuz_sha256: \""+sumA+"\"\n") +
			"  - name: \"5.10\"\n    arch: \"arm64\"\n    source: \"path /x\"\n    release: \"5.10.0\"\n    vmlinuz_sha256: \"" + sumA + "\"\n", `kernels.lock:16: kernel "5.10" (arm64) is pinned twice (first at line 11)`},
		{"not a list", "kernels: 3\n", `kernels.lock:1: "kernels" must be a list`},
		{"empty value", strings.Replace(entry(""), "\"bullseye-security\"", "", 1), "kernels.lock:9: suite: expected a value"},
		{"two documents", entry("---\n" + strings.Replace(entry(""), "5.10", "6.1", -1)), "kernels.lock:11: a second YAML document starts here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLock([]byte(tt.src), "kernels.lock")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestLockPutOrder checks that pins added one by one, in any order, end up in the kernels file's
// order, amd64 pins first and then the arm64 ones, that a pin of a kernel the file does not list
// stays where it is, and that an arm64 pin never replaces the amd64 pin of its name.
func TestLockPutOrder(t *testing.T) {
	amd, arm := observation.ArchAMD64, observation.ArchARM64
	tests := []struct {
		name string
		puts []lockKey
		want string
	}{
		{"amd64 only", []lockKey{{"c", amd}, {"a", amd}, {"b", amd}, {"a", amd}}, "other a b c"},
		{"arm64 after amd64", []lockKey{{"c", arm}, {"a", amd}, {"c", amd}, {"a", arm}, {"b", amd}}, "other a b c a/arm64 c/arm64"},
		{"arm64 first", []lockKey{{"b", arm}, {"a", arm}, {"b", amd}}, "other b a/arm64 b/arm64"},
		{"replaced in place", []lockKey{{"a", arm}, {"a", amd}, {"a", arm}, {"a", amd}}, "other a a/arm64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &Lock{Entries: []LockEntry{{Name: "other"}}}
			for _, k := range tt.puts {
				l.put(LockEntry{Name: k.name, Arch: k.arch}, lockOrder([]string{"a", "b", "c"}))
			}
			var got []string
			for _, e := range l.Entries {
				if e.Arch != "" {
					e.Name += "/" + string(e.Arch)
				}
				got = append(got, e.Name)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("lock order = %v, want %s", got, tt.want)
			}
			for _, e := range l.Entries {
				if e.Arch == amd {
					t.Errorf("pin %s records arch amd64; the lock leaves amd64 unsaid", e.Name)
				}
			}
		})
	}
}

// TestBuiltinLockReadOnly checks that nothing writes the built-in lock: Write refuses, a fetch
// skips it, and --update is refused before anything is fetched.
func TestBuiltinLockReadOnly(t *testing.T) {
	lock, err := LoadLock(BuiltinLockFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := lock.Write(); !errors.Is(err, ErrReadOnlyLock) {
		t.Errorf("Write() = %v, want ErrReadOnlyLock", err)
	}
	cfg, err := LoadConfig(BuiltinKernelsFile)
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	f := &Fetcher{CacheDir: cache, Update: true, Getenv: func(string) string { return "" }}
	images, err := f.Fetch(context.Background(), cfg.Entries[:1])
	if !errors.Is(err, ErrReadOnlyLock) || len(images) != 0 || !strings.Contains(err.Error(), "kernels.yaml") {
		t.Errorf("Fetch --update of the built-in file = %d images, %v; want ErrReadOnlyLock naming kernels.yaml", len(images), err)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Errorf("Fetch --update of the built-in file left %d entries in the cache", len(ents))
	}
	run := &fetchRun{f: &Fetcher{}, cache: imageCache{dir: cache}, lock: lock}
	pin := lock.Entries[0]
	pin.Version = "0.0.1"
	if err := run.writeLock(cfg.Entries, []LockEntry{pin}); err != nil {
		t.Errorf("writeLock with the built-in lock: %v", err)
	}
	if again, _ := LoadLock(BuiltinLockFile); string(again.Marshal()) != string(lock.Marshal()) {
		t.Error("writeLock changed the built-in lock")
	}
}
