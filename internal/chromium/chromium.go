// Package chromium renders a local HTML page in headless Chromium, for the tests that look at
// the report's page as a reader would (its DOM after the script ran) and for the screenshot the
// matrix suite keeps beside the report. It is no part of the installed tool, which never starts
// a browser.
package chromium

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrNoBrowser is returned (wrapped) when no headless Chromium is installed.
var ErrNoBrowser = errors.New("no chromium found (apt-get install chromium)")

// Browser finds a Chromium binary: $BPFMATRIX_CHROMIUM, else chromium or chromium-browser on PATH.
func Browser() (string, error) {
	if p := os.Getenv("BPFMATRIX_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// headless runs Chromium on a local page with the flags that keep it from reaching out to the
// network (this tool runs on machines without one) and returns its standard output.
func headless(ctx context.Context, page, fragment string, extra ...string) ([]byte, error) {
	bin, err := Browser()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(page)
	if err != nil {
		return nil, err
	}
	profile, err := os.MkdirTemp("", "bpfmatrix-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(profile)
	u := url.URL{Scheme: "file", Path: abs, Fragment: fragment}
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile,
	}, extra...)
	args = append(args, u.String())
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out, fmt.Errorf("chromium: %w: %s", err, lastLines(string(ee.Stderr), 5))
		}
		return out, fmt.Errorf("chromium: %w", err)
	}
	return out, nil
}

// RenderedDOM loads page in headless Chromium, lets its script run, and returns the DOM as
// HTML. fragment selects a view (e.g. "type=xdp").
func RenderedDOM(ctx context.Context, page, fragment string) (string, error) {
	out, err := headless(ctx, page, fragment, "--virtual-time-budget=5000", "--dump-dom")
	return string(out), err
}

// Screenshot renders page in headless Chromium into a PNG file.
func Screenshot(ctx context.Context, page, fragment, png string) error {
	abs, err := filepath.Abs(png)
	if err != nil {
		return err
	}
	if _, err := headless(ctx, page, fragment, "--virtual-time-budget=5000", "--hide-scrollbars", "--window-size=1600,1000", "--screenshot="+abs); err != nil {
		return err
	}
	if st, err := os.Stat(abs); err != nil || st.Size() == 0 {
		return fmt.Errorf("chromium wrote no screenshot to %s", abs)
	}
	return nil
}

// lastLines is the end of Chromium's error output, where the reason is.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			if n--; n == 0 {
				return s[i+1:]
			}
		}
	}
	return s
}
