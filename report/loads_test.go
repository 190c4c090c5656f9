package report

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/chromium"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/objverdict"
)

// goldenLoads is objverdict's golden load.json: static answers for two objects and booted ones
// (loaded, refused, a failed kernel) for a third.
func goldenLoads(t *testing.T) *objverdict.Report {
	t.Helper()
	l, err := objverdict.ReadReport(filepath.Join("..", "objverdict", "testdata", "golden", "load.json"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var (
	loadRowRE  = regexp.MustCompile(`(?s)<tr data-object="([^"]*)" data-program="([^"]*)" data-section="([^"]*)">(.*?)</tr>`)
	loadCellRE = regexp.MustCompile(`<td class="cell ([^"]*)" title="([^"]*)">([^<]*)</td>`)
)

// TestLoadsSection: the page's objects table has a row per program of the load report and a
// cell per kernel saying what that kernel answered, the cause and reason (and the registries'
// explanation) in the cell's title, and the program's summary line.
func TestLoadsSection(t *testing.T) {
	r := sample(t)
	loads := goldenLoads(t)
	evil := `<script>alert("verifier")</script>`
	loads.Loads[0].Reason += evil
	r.AddLoads(loads)
	var b strings.Builder
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, evil) {
		t.Error("a reason reached the page unescaped")
	}
	answers := map[loadKey]objverdict.Answer{}
	for _, a := range loads.Loads {
		answers[loadKey{a.Object, a.Program, a.Section, a.Kernel}] = a
	}
	rows := loadRowRE.FindAllStringSubmatch(page, -1)
	if len(rows) != len(loads.Programs) {
		t.Fatalf("%d rows in the objects table, want one per program (%d)", len(rows), len(loads.Programs))
	}
	for i, row := range rows {
		p := loads.Programs[i]
		if html.UnescapeString(row[1]) != p.Object || html.UnescapeString(row[2]) != p.Program {
			t.Errorf("row %d is %s %s, want %s %s", i, row[1], row[2], p.Object, p.Program)
		}
		if !strings.Contains(row[4], `<td class="summary">`+html.EscapeString(p.Summary)+`</td>`) {
			t.Errorf("row of %s lacks its summary %q", p.Program, p.Summary)
		}
		cells := loadCellRE.FindAllStringSubmatch(row[4], -1)
		if len(cells) != len(loads.Kernels) {
			t.Fatalf("row of %s has %d cells, want one per kernel (%d)", p.Program, len(cells), len(loads.Kernels))
		}
		for j, c := range cells {
			a := answers[loadKey{p.Object, p.Program, p.Section, loads.Kernels[j]}]
			class, title, text := c[1], html.UnescapeString(c[2]), c[3]
			want := "loaded"
			if !a.Loaded {
				want = string(a.Cause)
			}
			if text != want || (a.Loaded != (class == "s-O")) {
				t.Errorf("%s %s on %s: cell %q (class %s), want %q", p.Object, p.Program, a.Kernel, text, class, want)
			}
			for _, part := range []string{a.Reason, a.Explanation} {
				if !strings.Contains(title, part) {
					t.Errorf("%s %s on %s: title %q lacks %q", p.Object, p.Program, a.Kernel, title, part)
				}
			}
		}
	}
	// The booted object's guest on 6.12 failed: that cell is a failed kernel's, not a refusal.
	if !regexp.MustCompile(`(?s)data-object="booted.o".*?<td class="cell s-F" title="[^"]*kernel panic at 2.1 s">kernel_failed</td>`).MatchString(page) {
		t.Error("the failed guest of booted.o on 6.12 is not shown as a failed kernel")
	}
}

// TestLoadsOnlyWhenGiven: a report without loads has no objects section anywhere, and one with
// loads carries them in every output, the existing keys unchanged.
func TestLoadsOnlyWhenGiven(t *testing.T) {
	for _, with := range []bool{false, true} {
		r := sample(t)
		if with {
			r.AddLoads(goldenLoads(t))
		}
		dir := t.TempDir()
		if _, err := r.WriteFiles(dir); err != nil {
			t.Fatal(err)
		}
		read := func(name string) string {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			return string(data)
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal([]byte(read("report.json")), &doc); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"schema", "tool", "registry", "kernels", "summary", "helpers", "kfuncs"} {
			if _, ok := doc[key]; !ok {
				t.Errorf("with loads %v: report.json lacks %q", with, key)
			}
		}
		if _, ok := doc["loads"]; ok != with {
			t.Errorf("with loads %v: report.json has loads: %v", with, ok)
		}
		if with {
			got, err := objverdict.ParseReport("report.json loads", doc["loads"])
			if err != nil || len(got.Loads) != len(goldenLoads(t).Loads) {
				t.Errorf("report.json's loads do not read back as a load.json: %v", err)
			}
		}
		md, page := read("report.md"), read("report.html")
		for _, part := range []struct{ text, mark string }{{md, "## BPF objects on kernels\n"}, {md, "### calls.o\n"}, {page, `<table id="loads"`}} {
			if strings.Contains(part.text, part.mark) != with {
				t.Errorf("with loads %v: holds %q: %v", with, part.mark, !with)
			}
		}
	}
}

// TestLoadsInBrowser: the page with an objects table still runs its script (the heat-map
// filters) and shows every program's row as the page was written.
func TestLoadsInBrowser(t *testing.T) {
	if _, err := chromium.Browser(); errors.Is(err, chromium.ErrNoBrowser) {
		testenv.Need(t, err, "apt-get install chromium")
	}
	r := sample(t)
	loads := goldenLoads(t)
	r.AddLoads(loads)
	dir := t.TempDir()
	if _, err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	dom, err := chromium.RenderedDOM(context.Background(), filepath.Join(dir, "report.html"), "type=kprobe")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(dom, "<tr data-object="); n != len(loads.Programs) {
		t.Errorf("rendered objects table has %d rows, want %d", n, len(loads.Programs))
	}
	if n := strings.Count(dom, `class="hidden"`); n == 0 {
		t.Error("the kprobe filter hid no helper row: the page's script did not run")
	}
	row := regexp.MustCompile(`(?s)<tr data-object="calls.o" data-program="loop_kprobe".*?</tr>`).FindString(dom)
	if !strings.Contains(row, ">helper_unknown</td>") || !strings.Contains(row, ">loaded</td>") || !strings.Contains(row, "bpf_loop (id 181)") {
		t.Errorf("row of loop_kprobe: %s", row)
	}
}
