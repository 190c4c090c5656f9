package vmimages

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cacheFullError reports that the file system holding the cache ran out of space. It names the
// cache directory because that is what the user can act on (free space there, or move the
// cache), and it matches syscall.ENOSPC for callers that test for that.
type cacheFullError struct {
	dir    string
	detail string // what ran out of space, for the curious
}

// Error names the cache directory first and says what to do about it.
func (e *cacheFullError) Error() string {
	return fmt.Sprintf("cache directory %s is full (%s): free some space there or use another cache directory (XDG_CACHE_HOME)", e.dir, e.detail)
}

// Unwrap makes errors.Is(err, syscall.ENOSPC) hold, whichever way the full disk was noticed.
func (e *cacheFullError) Unwrap() error { return syscall.ENOSPC }

// errDiskFull is the cause a disk watch cancels a command with.
var errDiskFull = errors.New("no space left in the cache")

// minFreeBytes is the free space below which the cache counts as full: less than an apt
// InRelease file, so that no download can succeed there.
const minFreeBytes = 64 << 10

// diskFull reports whether the file system holding dir has less than minFreeBytes left for this
// process (root may use the blocks reserved for it). An unreadable file system is not reported
// full: the command that needs it will say what is wrong.
func diskFull(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	free := st.Bavail
	if os.Geteuid() == 0 {
		free = st.Bfree
	}
	return free*uint64(st.Bsize) < minFreeBytes
}

// watchDiskFull calls full once when the file system holding dir fills up, polling until ctx
// ends.
func watchDiskFull(ctx context.Context, dir string, full func()) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if diskFull(dir) {
				full()
				return
			}
		}
	}
}

// noSpaceLine returns apt's first output line that reports ENOSPC, or "".
func noSpaceLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "No space left on device") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// explainCacheFull turns an ENOSPC from writing into the cache (extraction, a manifest) into
// the error that names the cache directory.
func explainCacheFull(cacheDir string, err error) error {
	var full *cacheFullError
	if err == nil || !errors.Is(err, syscall.ENOSPC) || errors.As(err, &full) {
		return err
	}
	return &cacheFullError{dir: cacheDir, detail: err.Error()}
}
