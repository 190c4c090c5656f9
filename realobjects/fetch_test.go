package realobjects

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/bpfobj"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// fakeDeb is a package built by dpkg-deb holding a BPF object as a file, a binary embedding
// two objects, and files that hold none.
type fakeDeb struct {
	path       string
	obj, other []byte // the objects
	prefix     int    // where obj starts in the binary
}

func buildDeb(t *testing.T, dir string) fakeDeb {
	t.Helper()
	dpkg := testenv.NeedCommand(t, "dpkg-deb", "dpkg")
	d := fakeDeb{obj: bpfELFLE([]byte("object one")), other: bpfELFLE([]byte("object two, longer"))}
	head := []byte("\x7fELF host binary ...")
	d.prefix = len(head)
	host := slices.Concat(head, d.obj, []byte("padding"), d.other)
	root := t.TempDir()
	for name, data := range map[string][]byte{
		"DEBIAN/control":       []byte("Package: fake\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: test\n"),
		"usr/lib/bpf/prog.o":   d.obj,
		"usr/sbin/tool":        host,
		"usr/share/doc/fake/x": []byte("text mentioning \x7fELF"),
		"usr/lib/bpf/short.o":  []byte("\x7fEL"),
		"usr/lib/bpf/trunc.o":  d.obj[:len(d.obj)-8],
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, p, string(data))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d.path = filepath.Join(dir, "fake_1.0-1_amd64.deb")
	if out, err := exec.Command(dpkg, "--root-owner-group", "-Zgzip", "--build", root, d.path).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
	return d
}

// TestScanDeb checks what ScanDeb reports of a package.
func TestScanDeb(t *testing.T) {
	d := buildDeb(t, t.TempDir())
	deb, obj, other := d.path, d.obj, d.other
	var got []string
	err := ScanDeb(context.Background(), deb, func(f Found) error {
		got = append(got, f.Name()+" "+sum(f.Data)[:8])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"usr/lib/bpf/prog.o " + sum(obj)[:8],
		"usr/sbin/tool@" + itoa64(int64(d.prefix)) + " " + sum(obj)[:8],
		"usr/sbin/tool@" + itoa64(int64(d.prefix+len(obj)+len("padding"))) + " " + sum(other)[:8],
	}
	if strings.Join(sorted(got), "\n") != strings.Join(sorted(want), "\n") {
		t.Errorf("found\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	stop := errors.New("stop")
	if err := ScanDeb(context.Background(), deb, func(Found) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("an error of fn: ScanDeb returned %v", err)
	}
}

// TestFetchPinned fetches the pinned packages into a private cache, checks every object against
// its pin and reads each with bpfobj; a second fetch, offline, is served from the cache.
func TestFetchPinned(t *testing.T) {
	testenv.NeedNetwork(t)
	l, err := Pinned()
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	// The machine's package lists are reused when present, so that the test does not ask the
	// archive again for them; the packages go to the private cache.
	if user, err := vmimages.DefaultCacheDir(); err == nil {
		if _, err := os.Stat(filepath.Join(user, "apt")); err == nil {
			run(t, "cp", "-a", filepath.Join(user, "apt"), filepath.Join(cache, "apt"))
		}
	}
	objs, err := Fetch(context.Background(), l, Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	checkObjects(t, l, objs)
	again, err := Fetch(context.Background(), l, Options{CacheDir: cache, Offline: true})
	if err != nil {
		t.Fatalf("offline fetch from the cache: %v", err)
	}
	checkObjects(t, l, again)
}

func checkObjects(t *testing.T, l *Lock, objs []Object) {
	t.Helper()
	n := 0
	for _, p := range l.Packages {
		n += len(p.Objects)
	}
	if len(objs) != n {
		t.Fatalf("%d objects, the lock pins %d", len(objs), n)
	}
	for _, o := range objs {
		data, err := os.ReadFile(o.Path)
		if err != nil || sum(data) != o.SHA256 {
			t.Errorf("%s: %v, sha256 differs from the pin", o.Path, err)
			continue
		}
		obj, err := bpfobj.Read(o.Path)
		if err != nil {
			t.Errorf("bpfobj.Read %s (%s %s): %v", o.Path, o.Package, o.Version, err)
			continue
		}
		if len(obj.Programs) == 0 {
			t.Errorf("%s: no programs", o.Path)
		}
	}
}

// TestFetchFromCachedPackage fetches the objects of a package already in the cache (offline, so
// nothing is downloaded): objects are extracted, a damaged cached object is replaced, and a pin
// the package does not match is an error naming the lock's line.
func TestFetchFromCachedPackage(t *testing.T) {
	cache := t.TempDir()
	d := buildDeb(t, filepath.Join(cache, "debs"))
	debData, err := os.ReadFile(d.path)
	if err != nil {
		t.Fatal(err)
	}
	lock := func(objSum string, extra string) *Lock {
		text := "packages:\n  - package: fake\n    version: 1.0-1\n    suite: bookworm\n    deb_sha256: " + sum(debData) +
			"\n    objects:\n      - file: usr/lib/bpf/prog.o\n        sha256: " + objSum +
			"\n      - file: usr/sbin/tool\n        offset: " + itoa64(int64(d.prefix+len(d.obj)+len("padding"))) + "\n        sha256: " + sum(d.other) + "\n" + extra
		l, err := ParseLock([]byte(text), "fake.lock")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	opts := Options{CacheDir: cache, Offline: true}
	objs, err := Fetch(context.Background(), lock(sum(d.obj), ""), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || filepath.Base(objs[1].Path) != "tool@"+itoa64(objs[1].Offset)+".o" {
		t.Fatalf("objects %+v", objs)
	}
	write(t, objs[0].Path, "damaged")
	if _, err := Fetch(context.Background(), lock(sum(d.obj), ""), opts); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(objs[0].Path); sum(data) != sum(d.obj) {
		t.Errorf("the damaged cached object was not replaced")
	}
	os.Remove(objs[0].Path)
	_, err = Fetch(context.Background(), lock(strings.Repeat("0", 64), ""), opts)
	testenv.WantErr(t, err, "fake.lock:7: usr/lib/bpf/prog.o in fake 1.0-1 has sha256 "+sum(d.obj))
	_, err = Fetch(context.Background(), lock(sum(d.obj), "      - file: usr/lib/bpf/gone.o\n        sha256: "+sum(d.obj)+"\n"), opts)
	testenv.WantErr(t, err, "fake.lock:12: fake 1.0-1 holds no BPF object usr/lib/bpf/gone.o")
}
