// Package tempdir makes temporary directories that a later process can recognise as abandoned.
// A bpfmatrix killed with SIGKILL (or by the OOM killer) runs no cleanup: its guests' directories,
// its agent build and its half-extracted images stay behind, tens of MB per run. Each directory
// made here holds a lock file that its maker keeps locked (flock) for as long as it uses the
// directory; the kernel drops the lock when the process dies, however it dies. Sweep removes the
// directories whose lock is free, and never one without our lock file: a directory of the same
// name made by someone else is not provably ours.
package tempdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// LockName is the lock file inside every directory made by New. Code that hashes or lists a
// directory's contents skips it.
const LockName = ".bpfmatrix-owner.lock"

// Dir is a temporary directory held by this process.
type Dir struct {
	// Path is the directory.
	Path string
	lock *os.File
}

// New creates a directory in parent (the system's temporary directory when parent is empty)
// whose name starts with prefix, and locks it for this process.
func New(parent, prefix string) (*Dir, error) {
	for attempt := 0; ; attempt++ {
		path, err := os.MkdirTemp(parent, prefix)
		if err != nil {
			return nil, err
		}
		d, err := lockNew(path)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, errSwept) || attempt >= 3 {
			os.RemoveAll(path)
			return nil, err
		}
	}
}

// errSwept means a Sweep in another process removed the directory between its creation and the
// lock: New makes another.
var errSwept = errors.New("temporary directory was swept before it was locked")

func lockNew(path string) (*Dir, error) {
	lp := filepath.Join(path, LockName)
	f, err := os.OpenFile(lp, os.O_CREATE|os.O_EXCL|os.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Blocking: a sweeper that got the lock first holds it only while it removes the directory.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !samePath(f, lp) {
		f.Close()
		return nil, errSwept
	}
	return &Dir{Path: path, lock: f}, nil
}

// samePath reports whether path still names the open file f.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}

// Remove deletes the directory and everything in it, then releases the lock.
func (d *Dir) Remove() error {
	if d == nil || d.lock == nil {
		return nil
	}
	err := os.RemoveAll(d.Path)
	d.lock.Close()
	d.lock = nil
	return err
}

// Moved tells d that its directory was renamed to path (a staging directory that became a cache
// entry): the lock file is removed from there and the lock released, leaving the contents.
func (d *Dir) Moved(path string) {
	if d == nil || d.lock == nil {
		return
	}
	os.Remove(filepath.Join(path, LockName))
	d.lock.Close()
	d.lock = nil
}

// Sweep removes the directories of parent (the system's temporary directory when empty) whose
// names start with prefix and whose lock file exists and is free: their maker died without
// removing them. A directory without the lock file is left alone unless orphanAge is positive
// and it is older than that, which only a parent that bpfmatrix owns (its cache) may ask for.
// It returns the paths it removed; errors of single entries are skipped, since a sweep is
// housekeeping and must not stop the command.
func Sweep(parent, prefix string, orphanAge time.Duration) []string {
	if parent == "" {
		parent = os.TempDir()
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue // IsDir is false for a symbolic link: never followed
		}
		path := filepath.Join(parent, e.Name())
		if sweepOne(path, orphanAge) {
			removed = append(removed, path)
		}
	}
	return removed
}

func sweepOne(path string, orphanAge time.Duration) bool {
	lp := filepath.Join(path, LockName)
	f, err := os.OpenFile(lp, os.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		st, serr := os.Lstat(path)
		if orphanAge > 0 && serr == nil && st.IsDir() && time.Since(st.ModTime()) > orphanAge {
			return os.RemoveAll(path) == nil
		}
		return false
	}
	if err != nil {
		return false
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false // alive
	}
	if !samePath(f, lp) {
		return false
	}
	return os.RemoveAll(path) == nil
}
