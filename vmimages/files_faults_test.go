package vmimages

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// hostileNodes makes in dir a character device like /dev/zero ("zero"), a FIFO ("fifo") and a
// directory ("dir"), none of them a file the tool may read, and returns their paths.
func hostileNodes(t *testing.T, dir string) (zero, fifo, sub string) {
	t.Helper()
	p := testenv.Nodes(t, dir, "zero", "fifo", "dir")
	return p[0], p[1], p[2]
}

// TestFaultKernelsFilesNotRegular: kernels.yaml or kernels.lock as a FIFO (which blocked the
// read until Ctrl-C) or a link to a device like /dev/zero (which grew memory until the runtime
// died) is refused at once, naming the path and what it is.
func TestFaultKernelsFilesNotRegular(t *testing.T) {
	dir := t.TempDir()
	zero, fifo, sub := hostileNodes(t, dir)
	link := filepath.Join(dir, "kernels.yaml")
	if err := os.Symlink(zero, link); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{link, "a character device"}, {fifo, "a named pipe"}, {sub, "a directory"},
	} {
		for what, load := range map[string]func() error{
			"LoadConfig": func() error { _, err := LoadConfig(tt.path); return err },
			"LoadLock":   func() error { _, err := LoadLock(tt.path); return err },
		} {
			err := testenv.Within(t, what+" "+tt.path, 5*time.Second, load)
			if !errors.Is(err, files.ErrRefused) || !strings.Contains(err.Error(), tt.path+": not a regular file ("+tt.want+")") {
				t.Errorf("%s(%s): %v, want a refusal saying it is %s", what, tt.path, err, tt.want)
			}
		}
	}
}

// TestFaultPathImageNotRegular: a path entry naming a device like /dev/zero made verify spin
// for ten minutes, hashing it. Entry.CheckFiles refuses it (and a FIFO, a directory, a config
// that is one) naming the kernel, its line and the path, and a fetch fails at once.
func TestFaultPathImageNotRegular(t *testing.T) {
	dir := t.TempDir()
	zero, fifo, sub := hostileNodes(t, dir)
	writeFile(t, filepath.Join(dir, "bzImage"), string(fakeBzImage("6.13.0", "one")))
	kfile := filepath.Join(dir, "kernels.yaml")
	for _, tt := range []struct{ entry, key, path, want string }{
		{"path: zero", "image", zero, "a character device"},
		{"path: fifo", "image", fifo, "a named pipe"},
		{"path: dir", "image", sub, "a directory"},
		{"path: {image: bzImage, config: zero}", "config", zero, "a character device"},
	} {
		writeFile(t, kfile, "kernels:\n  - name: mine\n    "+tt.entry+"\n")
		cfg, err := LoadConfig(kfile)
		if err != nil {
			t.Fatal(err)
		}
		want := "kernel mine (" + kfile + ":2): " + tt.key + ": " + tt.path + ": not a regular file (" + tt.want + ")"
		if err := cfg.Entries[0].CheckFiles(); !errors.Is(err, files.ErrRefused) || err.Error() != want {
			t.Errorf("%s: CheckFiles: %v, want %q", tt.entry, err, want)
		}
		fetch := func() error {
			_, err := (&Fetcher{CacheDir: filepath.Join(dir, "cache")}).Fetch(context.Background(), cfg.Entries)
			return err
		}
		if err := testenv.Within(t, "Fetch "+tt.entry, 5*time.Second, fetch); err == nil || !strings.Contains(err.Error(), "kernel mine") || !strings.Contains(err.Error(), tt.path+": not a regular file") {
			t.Errorf("%s: Fetch: %v", tt.entry, err)
		}
	}
	writeFile(t, kfile, "kernels:\n  - name: mine\n    path: {image: bzImage, config: missing}\n")
	if cfg, err := LoadConfig(kfile); err != nil || cfg.Entries[0].CheckFiles() != nil {
		t.Errorf("a regular image and a missing config (left to the fetch): %v", err)
	}
}
