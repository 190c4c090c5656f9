package vmimages

import (
	"path/filepath"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// KernelStatus is what `kernels list` shows for one entry.
type KernelStatus struct {
	Entry  Entry
	Locked *LockEntry // nil when kernels.lock has no current pin for the entry
	Cached bool       // the pinned image is in the cache and intact
}

// Status reports the lock and cache state of the amd64 builds of entries without fetching
// anything. A lock entry whose source spec differs from the entry's is reported as not locked.
func Status(cacheDir string, entries []Entry) ([]KernelStatus, error) {
	return StatusArch(cacheDir, observation.DefaultArch, entries)
}

// StatusArch reports as Status does, for the builds of architecture arch (empty: amd64).
func StatusArch(cacheDir string, arch observation.Arch, entries []Entry) ([]KernelStatus, error) {
	if cacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		cacheDir = d
	}
	locks := map[string]*Lock{}
	cache := imageCache{dir: cacheDir}
	out := make([]KernelStatus, 0, len(entries))
	for _, e := range entries {
		lp := e.lockPath()
		lock, ok := locks[lp]
		if !ok {
			var err error
			if lock, err = LoadLock(lp); err != nil {
				return nil, err
			}
			locks[lp] = lock
		}
		st := KernelStatus{Entry: e}
		if le := lock.FindArch(e.Name, arch); le != nil && le.Source == e.Source.Spec() {
			st.Locked = le
			st.Cached = cache.Status(le.SHA256) == nil
		}
		out = append(out, st)
	}
	return out, nil
}

func (e Entry) lockPath() string {
	if e.cfg != nil {
		return e.cfg.LockPath()
	}
	return filepath.Join(filepath.Dir(e.File), "kernels.lock")
}
