package testenv

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The device numbers of the character devices fault tests make in their temporary directories,
// so that no test has to touch the machine's own /dev.
const (
	DevNull = 1<<8 | 3 // like /dev/null: reads end at once, writes vanish
	DevZero = 1<<8 | 5 // like /dev/zero: a read never ends
	DevFull = 1<<8 | 7 // like /dev/full: every write fails
)

// CharDevice makes at path a character device with the numbers dev (DevNull, DevZero, DevFull).
// It needs root, so it gates t with NeedRoot.
func CharDevice(t testing.TB, path string, dev int) {
	t.Helper()
	NeedRoot(t) // mknod
	if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, dev); err != nil {
		t.Fatal(err)
	}
}

// FIFO makes a named pipe at path: a reader of it waits for a writer that never comes.
func FIFO(t testing.TB, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Nodes makes in dir, one for each name and in the order given, a file that is not a regular
// file, chosen by its name: "null", "zero" and "full" character devices (CharDevice), "fifo" a
// named pipe, "sock" a listening unix socket (closed when the test ends), "dir" a directory and
// "link-X" a symbolic link to the node X made before it. It returns their paths in that order.
func Nodes(t testing.TB, dir string, names ...string) []string {
	t.Helper()
	paths := make([]string, len(names))
	for i, name := range names {
		paths[i] = filepath.Join(dir, name)
		makeNode(t, paths[i], name)
	}
	return paths
}

// makeNode makes the node Nodes names name at path.
func makeNode(t testing.TB, path, name string) {
	t.Helper()
	var err error
	switch name {
	case "null":
		CharDevice(t, path, DevNull)
	case "zero":
		CharDevice(t, path, DevZero)
	case "full":
		CharDevice(t, path, DevFull)
	case "fifo":
		FIFO(t, path)
	case "sock":
		var l net.Listener
		if l, err = net.Listen("unix", path); err == nil {
			t.Cleanup(func() { l.Close() })
		}
	case "dir":
		err = os.Mkdir(path, 0o755)
	default:
		target, ok := strings.CutPrefix(name, "link-")
		if !ok {
			t.Fatalf("testenv.Nodes: no kind of node is called %q", name)
		}
		err = os.Symlink(filepath.Join(filepath.Dir(path), target), path)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// Within runs f and returns its error, failing t when f has not returned after limit: a reader
// of a FIFO with no writer waits forever, one of a device like /dev/zero never ends, and a test
// must say so rather than hang until the test binary's own timeout. what names f in the failure.
func Within(t testing.TB, what string, limit time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("%s still running after %v", what, limit)
		return nil
	}
}
