package report

import (
	"context"
	"errors"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPageInBrowser renders the page in headless Chromium, as a reader would see it: the DOM
// after the page's script ran must hold one heat-map row per helper and the expected cell text,
// also after a program-type filter was applied through the URL.
func TestPageInBrowser(t *testing.T) {
	if _, err := Browser(); errors.Is(err, ErrNoBrowser) {
		testenv.Need(t, err, "apt-get install chromium")
	}
	r := sample(t)
	dir := t.TempDir()
	if _, err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	ctx := context.Background()

	dom, err := RenderedDOM(ctx, page, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(dom, "<tr data-id="); n != 6 {
		t.Errorf("rendered heat-map has %d rows, want 6 (one per helper)", n)
	}
	// skb_set_tstamp on 5.10: the kernel does not know id 192.
	row := regexp.MustCompile(`(?s)<tr data-id="192".*?</tr>`).FindString(dom)
	if !strings.Contains(row, `>unknown</td>`) || !strings.Contains(row, `>failed</td>`) {
		t.Errorf("row of skb_set_tstamp: %s", row)
	}

	// The kfunc heat-map: 5.10 lacks bpf_task_acquire, 6.1 lets one program type call it.
	row = regexp.MustCompile(`(?s)<tr data-kfunc="bpf_task_acquire".*?</tr>`).FindString(dom)
	if !strings.Contains(row, `>absent</td>`) || !strings.Contains(row, `>1 type</td>`) || !strings.Contains(row, "confirmed") {
		t.Errorf("kfunc row of bpf_task_acquire: %s", row)
	}

	dom, err = RenderedDOM(ctx, page, "type=kprobe")
	if err != nil {
		t.Fatal(err)
	}
	row = regexp.MustCompile(`(?s)<tr data-id="4".*?</tr>`).FindString(dom)
	if !strings.Contains(row, `offered*`) || !strings.Contains(row, `GPL-restricted`) {
		t.Errorf("kprobe view of probe_read should show the gpl-only offer on 6.1: %s", row)
	}
	if n := strings.Count(dom, `class="hidden"`); n == 0 {
		t.Errorf("kprobe view hides no row; helpers not declared for kprobe should be hidden")
	}

	png := filepath.Join(dir, "report.png")
	if err := Screenshot(ctx, page, "", png); err != nil {
		t.Fatal(err)
	}
	if keep := os.Getenv("BPFMATRIX_ARTIFACTS"); keep != "" {
		data, _ := os.ReadFile(png)
		os.MkdirAll(keep, 0o755)
		os.WriteFile(filepath.Join(keep, "report-test.png"), data, 0o644)
	}
}
