package realobjects

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/bpfobj"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// TestScanDeb builds a package with dpkg-deb holding a BPF object as a file, a binary embedding
// two objects, and files that hold none, and checks what ScanDeb reports.
func TestScanDeb(t *testing.T) {
	dpkg := testenv.NeedCommand(t, "dpkg-deb", "dpkg")
	le := bpfELFLE
	obj := le([]byte("object one"))
	other := le([]byte("object two, longer"))
	host := append(append(append([]byte("\x7fELF host binary ..."), obj...), "padding"...), other...)
	root := t.TempDir()
	for name, data := range map[string][]byte{
		"DEBIAN/control":       []byte("Package: fake\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: test\n"),
		"usr/lib/bpf/prog.o":   obj,
		"usr/sbin/tool":        host,
		"usr/share/doc/fake/x": []byte("text mentioning \x7fELF"),
		"usr/lib/bpf/short.o":  []byte("\x7fEL"),
		"usr/lib/bpf/trunc.o":  obj[:len(obj)-8],
	} {
		p := filepath.Join(root, "pkg", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, p, string(data))
	}
	deb := filepath.Join(root, "fake.deb")
	if out, err := exec.Command(dpkg, "--root-owner-group", "-Zgzip", "--build", filepath.Join(root, "pkg"), deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
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
		"usr/sbin/tool@" + itoa64(int64(len("\x7fELF host binary ..."))) + " " + sum(obj)[:8],
		"usr/sbin/tool@" + itoa64(int64(len("\x7fELF host binary ...")+len(obj)+len("padding"))) + " " + sum(other)[:8],
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
