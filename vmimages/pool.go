package vmimages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/tempdir"
)

// debRef names one exact package file: what ensureDeb needs to find it in the cache or fetch it.
type debRef struct {
	pkg, version string
	sum          string // sha256 of the .deb, from the signed index (through kernels.lock)
	size         int64  // bytes, for progress lines; 0 when unknown
	// pool is the file's path below the archive's root and suite the suite it was pinned
	// from (which archive serves it); an empty pool means the index finds it.
	pool, suite string
}

// poolStallTimeout ends a direct download that has received nothing for this long; the fetch then
// goes through the index as it would without a path. A variable for the fault test.
var poolStallTimeout = 30 * time.Second

// errPoolStalled ends a direct download that stopped receiving (see poolStallTimeout).
var errPoolStalled = errors.New("no data")

// downloadPool downloads ref straight from its archive path, without reading the index: a
// pinned package's path and sha256 are in kernels.lock, which took both from the signed index,
// so the file is checked as apt would check it. The file lands in the debs directory under its
// cache name.
func (r *fetchRun) downloadPool(ctx context.Context, a *apt, kernel string, ref debRef) (string, error) {
	base := a.archive.Mirror
	if strings.HasSuffix(ref.suite, "-security") {
		base = a.archive.SecurityMirror
	}
	if base == "" {
		return "", fmt.Errorf("no archive configured for suite %s", ref.suite)
	}
	url := strings.TrimRight(base, "/") + "/" + ref.pool
	dir := r.cache.debsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	td, err := tempdir.New(dir, downloadPrefix)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", ref.pkg, err)
	}
	defer td.Remove()
	done := r.startDownload(kernel, ref)
	tmp := filepath.Join(td.Path, filepath.Base(ref.pool))
	got, err := getFile(ctx, url, tmp)
	if err != nil {
		return "", err
	}
	if got != ref.sum {
		return "", fmt.Errorf("%s: sha256 %s, kernels.lock pins %s", url, shortSum(got), shortSum(ref.sum))
	}
	dst := filepath.Join(dir, debFileName(ref.pkg, ref.version, r.arch))
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("download %s: %w", ref.pkg, err)
	}
	done(dst)
	return dst, nil
}

// startDownload reports that the download of ref begins, whichever way it goes, and returns what
// reports it done, with the package file it left.
func (r *fetchRun) startDownload(kernel string, ref debRef) (done func(path string)) {
	what := ref.pkg + " " + ref.version
	if ref.size > 0 {
		what += fmt.Sprintf(" (%.1f MB)", float64(ref.size)/1e6)
	}
	r.step(Step{Kernel: kernel, Message: "downloading " + what})
	start := time.Now()
	return func(path string) {
		var size int64
		if st, err := os.Stat(path); err == nil {
			size = st.Size()
		}
		r.step(Step{Kernel: kernel, Message: fmt.Sprintf("downloaded %s (%.1f MB in %.1fs)", filepath.Base(path), float64(size)/1e6, time.Since(start).Seconds())})
	}
}

// getFile writes what url serves into path and returns its sha256. It fails on any status but
// 200 and when no data came for poolStallTimeout.
func getFile(ctx context.Context, url, path string) (string, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	var progress atomic.Int64
	stop := watchStall(&progress, func() { cancel(errPoolStalled) })
	defer stop()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", stallError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h, progressWriter{&progress}), resp.Body); err != nil {
		return "", fmt.Errorf("GET %s: %w", url, stallError(ctx, err))
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// watchStall calls stalled once when progress has not moved for poolStallTimeout, until the
// returned stop is called.
func watchStall(progress *atomic.Int64, stalled func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(poolStallTimeout / 6)
		defer tick.Stop()
		last, since := progress.Load(), time.Now()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if now := progress.Load(); now != last {
					last, since = now, time.Now()
				} else if time.Since(since) >= poolStallTimeout {
					stalled()
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// stallError is err, or errPoolStalled when the stall watch is what ended the request.
func stallError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, errPoolStalled) {
		return fmt.Errorf("%w for %v", cause, poolStallTimeout)
	}
	return err
}

// progressWriter counts the bytes written through it.
type progressWriter struct{ n *atomic.Int64 }

func (w progressWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}
