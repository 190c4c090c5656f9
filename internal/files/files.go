// Package files owns how the tool touches the files a user names: reading only regular files of
// a bounded size (a FIFO, a device or a runaway file must not block it or eat the machine's
// memory), writing only new or regular files (as root, writing over /dev/null destroys it) and
// atomically, so that no reader ever sees a file half-written, and hashing.
package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"syscall"

	"github.com/bpfmatrix/bpfmatrix/internal/ctxio"
)

// WriteAtomic writes data to path through a temporary file in the same directory that is synced
// and renamed into place, so that an interrupted write never leaves a half-written file under
// the final name. The directory is created when missing. Only a new file or a regular one (or a
// symbolic link to one, which the new file replaces) is written: any other path is refused with
// an error wrapping ErrRefused, before anything is written.
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	return WriteAtomicFunc(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteAtomicFunc is WriteAtomic for content that write streams.
func WriteAtomicFunc(path string, perm os.FileMode, write func(io.Writer) error) error {
	if err := CheckTarget(path); err != nil {
		return err
	}
	if err := MakeDir(filepath.Dir(path)); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Again, as the write may have taken a while: the rename is what would destroy a node.
	if err := CheckTarget(path); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// CheckTarget returns nil when WriteAtomic may write path: nothing is there, or a regular file
// (directly or through symbolic links). A device, FIFO, socket or directory there, or a link to
// one, is refused with an error wrapping ErrRefused, so that a command can refuse a bad output
// path before it does the work whose result it would write.
func CheckTarget(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new file (or a dangling link, which the new file replaces)
	}
	if errors.Is(err, syscall.ENOTDIR) {
		return refuseParent(path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return &RefusedError{Op: "write", Path: path, Reason: "not a regular file (" + kind(fi.Mode()) + "): only a new or a regular file is written"}
	}
	return nil
}

// MakeDir creates the directory dir and its parents when missing, for files to be written
// into. A path that is there as anything but a directory (or a link to one) is refused with an
// error wrapping ErrRefused.
func MakeDir(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil && !fi.IsDir() {
		return &RefusedError{Op: "write", Path: dir, Reason: "not a directory (" + kind(fi.Mode()) + "): want a directory to write into"}
	}
	if errors.Is(err, syscall.ENOTDIR) {
		return refuseParent(dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	return nil
}

// refuseParent names the first parent of path that is there but is not a directory.
func refuseParent(path string) error {
	for p := filepath.Dir(path); p != filepath.Dir(p); p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return &RefusedError{Op: "write", Path: path, Reason: fmt.Sprintf("%s is not a directory (%s)", p, kind(fi.Mode()))}
		}
	}
	return &RefusedError{Op: "write", Path: path, Reason: "a parent is not a directory"}
}

// IsSHA256 reports whether s is a sha256 as this project writes them: 64 lower-case hex digits.
func IsSHA256(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// SHA256 returns the hex sha256 of the file at path, which must be a regular file of at most
// Image.Max bytes (see OpenRegular): hashing /dev/zero would never end.
func SHA256(ctx context.Context, path string) (string, error) {
	f, err := OpenRegular(path, Image)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(ctxio.Reader(ctx, f), Image.Max+1))
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	if n > Image.Max {
		return "", Image.refuse(path)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
