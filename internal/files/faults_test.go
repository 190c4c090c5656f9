package files

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// nodes makes, in a new temporary directory, one file of each kind that is not a regular file
// (device nodes like /dev/null and /dev/zero, a FIFO, a socket, a directory) and links to two of
// them, and returns each path with the kind a refusal must name.
func nodes(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	testenv.Nodes(t, dir, "null", "zero", "fifo", "sock", "dir", "link-null", "link-fifo")
	return map[string]string{
		p("null"): "a character device", p("zero"): "a character device", p("fifo"): "a named pipe",
		p("sock"): "a socket", p("dir"): "a directory",
		p("link-null"): "a character device", p("link-fifo"): "a named pipe",
	}
}

// TestFaultWriteAtomicNodes: writing over anything but a regular file is refused, naming the
// path and its kind, and leaves the node as it was (as root, WriteAtomic once replaced
// /dev/null with a regular file).
func TestFaultWriteAtomicNodes(t *testing.T) {
	for path, want := range nodes(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			before, _ := os.Lstat(path)
			err := WriteAtomic(path, []byte("data\n"), 0o644)
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), path+": not a regular file ("+want+")") {
				t.Errorf("WriteAtomic: %v, want a refusal naming %s and %q", err, path, want)
			}
			if after, err := os.Lstat(path); err != nil || after.Mode() != before.Mode() {
				t.Errorf("the node is now %v (%v), was %v", after.Mode(), err, before.Mode())
			}
			if err := CheckTarget(path); !errors.Is(err, ErrRefused) {
				t.Errorf("CheckTarget: %v", err)
			}
		})
	}
}

// TestFaultMakeDirNodes: a directory to write into that is a node, or lies under one, is
// refused.
func TestFaultMakeDirNodes(t *testing.T) {
	for path, want := range nodes(t) {
		if want == "a directory" {
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			if err := MakeDir(path); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), path+": not a directory ("+want+")") {
				t.Errorf("MakeDir: %v", err)
			}
			under := filepath.Join(path, "sub", "f.json")
			if err := WriteAtomic(under, []byte("x"), 0o644); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), path+" is not a directory") {
				t.Errorf("WriteAtomic under it: %v", err)
			}
		})
	}
}

// TestWriteAtomicTargets: new files, regular files and links to regular files are written.
func TestWriteAtomicTargets(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	os.WriteFile(regular, []byte("old"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(regular, link)
	dangling := filepath.Join(dir, "dangling")
	os.Symlink(filepath.Join(dir, "nowhere"), dangling)
	for _, p := range []string{filepath.Join(dir, "new", "deeper", "f"), regular, link, dangling} {
		if err := WriteAtomic(p, []byte("new"), 0o644); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != "new" {
			t.Errorf("%s holds %q (%v)", p, b, err)
		}
	}
	if err := MakeDir(filepath.Join(dir, "a", "b")); err != nil {
		t.Error(err)
	}
}

// TestFaultReadRegular: reading anything but a regular file of at most the limit is refused at
// once, naming the path and what it is; a missing file is os.ErrNotExist.
func TestFaultReadRegular(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	os.WriteFile(small, []byte("0123456789"), 0o644)
	big := filepath.Join(dir, "big")
	os.WriteFile(big, nil, 0o644)
	if err := os.Truncate(big, Registry.Max+1); err != nil { // sparse
		t.Fatal(err)
	}
	cases := map[string]string{}
	for p, k := range nodes(t) {
		cases[p] = "not a regular file (" + k + ")"
	}
	cases[big] = "larger than 16 MiB, the most a registry file may hold"
	for path, want := range cases {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if err := testenv.Within(t, "ReadRegular", 5*time.Second, func() error { _, err := ReadRegular(path, Registry); return err }); !refused(err, path, want) {
				t.Errorf("ReadRegular: %v, want a refusal naming %s and %q", err, path, want)
			}
			if path == big {
				return // under Image.Max, which SHA256 reads
			}
			if err := testenv.Within(t, "SHA256", 5*time.Second, func() error { _, err := SHA256(context.Background(), path); return err }); !refused(err, path, want) {
				t.Errorf("SHA256: %v, want a refusal naming %s and %q", err, path, want)
			}
		})
	}
	if b, err := ReadRegular(small, Limit{"a test file", 10}); err != nil || string(b) != "0123456789" {
		t.Errorf("a file of exactly the limit: %q, %v", b, err)
	}
	if _, err := ReadRegular(small, Limit{"a test file", 9}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "larger than 9 bytes, the most a test file may hold") {
		t.Errorf("a file over the limit: %v", err)
	}
	if _, err := ReadRegular(filepath.Join(dir, "missing"), Registry); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}

func refused(err error, path, why string) bool {
	return errors.Is(err, ErrRefused) && strings.Contains(err.Error(), path+": "+why)
}
