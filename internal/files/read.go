package files

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrRefused is wrapped by every error of this package that refuses a path for what it is,
// not for what the system said: a device, FIFO, socket or directory where a regular file is
// read or replaced, or a file over its kind's Limit. Commands treat it as bad input (exit 2).
var ErrRefused = errors.New("refused")

// RefusedError says which path was refused and why; it matches ErrRefused.
type RefusedError struct {
	Op     string // "write" for a refused output; empty for an input, named by its path alone
	Path   string
	Reason string
}

// Error says what was refused and why, naming the path.
func (e *RefusedError) Error() string {
	if e.Op != "" {
		return e.Op + " " + e.Path + ": " + e.Reason
	}
	return e.Path + ": " + e.Reason
}

// Is makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Limit is the most bytes one kind of file may hold, and what that kind is called when a file
// is refused for being larger. A wrong path (a disk image, a log, a file that grows while it is
// read) must end in an error, not in a machine out of memory.
type Limit struct {
	What string // with its article: "a registry file"
	Max  int64  // bytes
}

// The limits of the files the tool reads, each far above what a real one holds.
var (
	// Registry bounds a helper or kfunc table in any format: the real ones are under 1 MiB.
	Registry = Limit{"a registry file", 16 << 20}
	// KernelsFile bounds kernels.yaml: a dozen kernels take under 2 KiB.
	KernelsFile = Limit{"a kernels file", 1 << 20}
	// Lock bounds kernels.lock, whose pins for a dozen kernels take under 4 KiB.
	Lock = Limit{"a kernels.lock", 1 << 20}
	// Observation bounds one observation document (or cache entry): every helper on 7.3 is
	// 3 MB.
	Observation = Limit{"an observation", 256 << 20}
	// Record bounds the small files the tool keeps for itself beside what it caches (an
	// image's manifest, its verification stamps): a few KiB each.
	Record = Limit{"a cache record", 1 << 20}
	// Image bounds a kernel image and the other files that are hashed or copied whole (a
	// cache entry's files, the guest agent): Debian's vmlinuz is 12 MB, a bzImage with every
	// driver built in stays under 100 MB.
	Image = Limit{"a kernel image", 1 << 30}
	// Module bounds one kernel module read from a package, packed or unpacked: Debian's
	// cloud modules are under 2 MB unpacked, the largest driver module of any build under 32 MB.
	Module = Limit{"a kernel module", 64 << 20}
)

func (l Limit) refuse(path string) error {
	size := fmt.Sprintf("%d bytes", l.Max)
	if l.Max%(1<<20) == 0 {
		size = fmt.Sprintf("%d MiB", l.Max>>20)
	}
	return &RefusedError{Path: path, Reason: fmt.Sprintf("larger than %s, the most %s may hold", size, l.What)}
}

// ReadAll reads r to its end when it holds at most l.Max bytes; more is an error wrapping
// ErrRefused that names what r is (name), without reading further. It bounds what is read from
// a stream, where ReadRegular bounds a file.
func (l Limit) ReadAll(name string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, l.Max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > l.Max {
		return nil, l.refuse(name)
	}
	return data, nil
}

// ReadRegular reads the file at path, following symbolic links, when it is a regular file of at
// most limit.Max bytes; anything else is an error wrapping ErrRefused that names path and what
// it is. A FIFO is refused without waiting for a writer, /dev/zero without reading it.
func ReadRegular(path string, limit Limit) ([]byte, error) {
	f, err := OpenRegular(path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit.Max+1)) // the file may grow while it is read
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit.Max {
		return nil, limit.refuse(path)
	}
	return data, nil
}

// OpenRegular opens for reading the file at path, following symbolic links, when it is a
// regular file of at most limit.Max bytes, refusing anything else as ReadRegular does. A file
// may grow after it is opened: a reader that streams it stops after limit.Max+1 bytes (see
// SHA256).
func OpenRegular(path string, limit Limit) (*os.File, error) {
	// Checked first, so that a device is refused without being opened (opening a tty or a
	// tape is not harmless) and a socket with its name rather than open's ENXIO.
	if err := CheckRegular(path, limit); err != nil {
		return nil, err
	}
	// Should path have become a FIFO since Stat, O_NONBLOCK keeps open from waiting for a
	// writer; the opened file is checked again.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = checkRegular(path, fi, limit)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// CheckRegular returns nil when path is, directly or through symbolic links, a regular file of
// at most limit.Max bytes, without opening it; otherwise the error of Stat (os.ErrNotExist for a
// missing file) or a refusal as ReadRegular's. It lets a command refuse a bad input file before
// it starts work that reads the file later.
func CheckRegular(path string, limit Limit) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return checkRegular(path, fi, limit)
}

func checkRegular(path string, fi os.FileInfo, limit Limit) error {
	if !fi.Mode().IsRegular() {
		return &RefusedError{Path: path, Reason: "not a regular file (" + kind(fi.Mode()) + ")"}
	}
	if fi.Size() > limit.Max {
		return limit.refuse(path)
	}
	return nil
}

// kind names the type of a file that is not a regular one.
func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m.IsRegular():
		return "a regular file"
	default:
		return "mode " + m.String()
	}
}
