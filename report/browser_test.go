package report

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/chromium"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// TestPageInBrowser renders the page in headless Chromium, as a reader would see it: the DOM
// after the page's script ran must hold one heat-map row per helper and the expected cell text,
// also after a program-type filter was applied through the URL.
func TestPageInBrowser(t *testing.T) {
	if _, err := chromium.Browser(); errors.Is(err, chromium.ErrNoBrowser) {
		testenv.Need(t, err, "apt-get install chromium")
	}
	r := sample(t)
	dir := t.TempDir()
	if _, err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	ctx := context.Background()

	dom, err := chromium.RenderedDOM(ctx, page, "")
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

	dom, err = chromium.RenderedDOM(ctx, page, "type=kprobe")
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
	if err := chromium.Screenshot(ctx, page, "", png); err != nil {
		t.Fatal(err)
	}
	if keep := os.Getenv("BPFMATRIX_ARTIFACTS"); keep != "" {
		data, _ := os.ReadFile(png)
		os.MkdirAll(keep, 0o755)
		os.WriteFile(filepath.Join(keep, "report-test.png"), data, 0o644)
	}
}

// TestFaultKnownNoTypeAfterFilter: a kernel that knows a helper's id but offers it to no
// program type is shown as "known, 0 types", not green, also after the page's script repainted
// the heat-map for a filter (the shade is the verdict's, in the page's data).
func TestFaultKnownNoTypeAfterFilter(t *testing.T) {
	if _, err := chromium.Browser(); errors.Is(err, chromium.ErrNoBrowser) {
		testenv.Need(t, err, "apt-get install chromium")
	}
	k := obs("7.3", "7.3.4", res(5, "xdp", "not_for_type", "program of this type cannot use helper bpf_ktime_get_ns#5"))
	dir := t.TempDir()
	if _, err := Build(testRegistry(t), nil, []Kernel{k}, "test").WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for _, fragment := range []string{"", "category=time", "contra=0"} {
		dom, err := chromium.RenderedDOM(context.Background(), filepath.Join(dir, "report.html"), fragment)
		if err != nil {
			t.Fatal(err)
		}
		row := regexp.MustCompile(`(?s)<tr data-id="5".*?</tr>`).FindString(dom)
		if !strings.Contains(row, `class="cell s-K`) || !strings.Contains(row, ">known, 0 types<") {
			t.Errorf("#%s: row of a helper known but offered nowhere: %s", fragment, row)
		}
	}
}

// TestPageArchDiffInBrowser: an arm64 kernel's cell whose answer differs from its amd64 twin's
// is marked, with both answers in its title, as the page first shows it and after the script
// repainted it for a program type; the twin's own cell is not marked.
func TestPageArchDiffInBrowser(t *testing.T) {
	if _, err := chromium.Browser(); errors.Is(err, chromium.ErrNoBrowser) {
		testenv.Need(t, err, "apt-get install chromium")
	}
	amd := built("6.12", "6.12.118", "", res(125, "xdp", "supported", "loaded"), res(125, "kprobe", "supported", "loaded"))
	arm := built("6.12", "6.12.118", "arm64", res(125, "xdp", "not_for_type", "program of this type cannot use helper bpf_ktime_get_boot_ns#125"),
		res(125, "kprobe", "supported", "loaded"))
	dir := t.TempDir()
	if _, err := Build(testRegistry(t), nil, []Kernel{arm, amd}, "test").WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	cell := regexp.MustCompile(`<td class="cell ([^"]*)" title="([^"]*)">`)
	for _, tc := range []struct {
		fragment, arm64Says, amd64Says string
	}{
		{fragment: "", arm64Says: "1 type", amd64Says: "2 types"},
		{fragment: "type=xdp", arm64Says: "cannot use helper bpf_ktime_get_boot_ns#125", amd64Says: "loaded"},
	} {
		dom, err := chromium.RenderedDOM(context.Background(), filepath.Join(dir, "report.html"), tc.fragment)
		if err != nil {
			t.Fatal(err)
		}
		row := regexp.MustCompile(`(?s)<tr data-id="125".*?</tr>`).FindString(dom)
		cells := cell.FindAllStringSubmatch(row, -1)
		if len(cells) != 2 {
			t.Fatalf("#%s: row of ktime_get_boot_ns has %d cells: %s", tc.fragment, len(cells), row)
		}
		if strings.Contains(cells[0][1], "archdiff") {
			t.Errorf("#%s: the amd64 cell is marked: %s", tc.fragment, cells[0][0])
		}
		title := cells[1][2]
		if !strings.Contains(cells[1][1], "archdiff") || !strings.Contains(title, tc.arm64Says) ||
			!strings.Contains(title, "but on 6.12 (amd64)") || !strings.Contains(title[strings.Index(title, "but on"):], tc.amd64Says) {
			t.Errorf("#%s: the arm64 cell: %s", tc.fragment, cells[1][0])
		}
	}
}
