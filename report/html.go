package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/verdict"
)

//go:embed report.html.tmpl
var htmlTemplate string

var pageTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"short": short,
}).Parse(htmlTemplate))

// pageType is one helper's answers in one program type (or its existence, under the key "*"),
// packed small because the page holds every helper x type x kernel: one shade letter (the
// verdict's) and one contradiction flag per kernel, and details as indexes into a shared string table (verifier
// lines repeat a lot).
type pageType struct {
	Verdict  verdict.Word `json:"v"`
	Reason   string       `json:"r"`
	States   string       `json:"s"`
	Contra   string       `json:"x"`
	Details  []int        `json:"d"`
	Declared bool         `json:"decl"`
	// Arch flags, per kernel, a cell whose answer differs from the kernel's amd64 twin's
	// ('1'); omitted when the report has no kernel of another architecture.
	Arch string `json:"a,omitempty"`
}

type pageHelper struct {
	ID       int                 `json:"id"`
	Name     string              `json:"name"`
	Category string              `json:"cat"`
	Verdict  verdict.Word        `json:"v"`
	Problems []string            `json:"p,omitempty"`
	Types    map[string]pageType `json:"t"`
}

type pageData struct {
	Kernels []string     `json:"kernels"`
	Strings []string     `json:"strings"`
	Helpers []pageHelper `json:"helpers"`
	// Twins holds, per kernel, the index of its amd64 twin or -1; omitted when every kernel
	// is amd64.
	Twins []int `json:"twins,omitempty"`
}

// pageRow is what the template renders before the script runs: the existence view.
type pageRow struct {
	ID       int
	Name     string
	Category string
	Verdict  verdict.Word
	Problems string
	Cells    []pageCell
}

type pageCell struct {
	Class, Text, Title string
}

// WriteHTML writes one self-contained page (no external scripts, styles or fonts): the kernels,
// the verdict counts and a heat-map helpers x kernels that can be filtered by program type and
// category, contradictions first. Everything that came from a kernel is escaped by html/template.
func (r *Report) WriteHTML(w io.Writer) error {
	b := &pageBuilder{data: pageData{Kernels: []string{}, Strings: []string{}, Twins: r.twins}, strIdx: map[string]int{}}
	for _, k := range r.Kernels {
		b.data.Kernels = append(b.data.Kernels, k.Name)
	}
	rows, types, cats := b.addHelpers(r.Helpers)
	return pageTmpl.Execute(w, map[string]any{
		"R":          r,
		"Rows":       rows,
		"Data":       b.data,
		"Types":      types,
		"Categories": cats,
		"KfuncRows":  r.kfuncRows(),
		"PointRows":  r.pointRows(),
		"CondRows":   r.conditionRows(),
		"LoadRows":   r.loadRows(),
		"Loads":      r.Loads,
		"ArchTwins":  r.twins != nil,
	})
}

// pageBuilder gathers the page's script data: the views of every helper, with their detail
// strings interned once (many cells share a detail).
type pageBuilder struct {
	data   pageData
	strIdx map[string]int
}

// intern returns the index of s in the page's string table, adding it when new.
func (b *pageBuilder) intern(s string) int {
	if i, ok := b.strIdx[s]; ok {
		return i
	}
	b.strIdx[s] = len(b.data.Strings)
	b.data.Strings = append(b.data.Strings, s)
	return b.strIdx[s]
}

// pack is one view of a helper (a program type, or its existence) as the script reads it: a
// shade letter and a contradiction flag per kernel, and each cell's detail.
func (b *pageBuilder) pack(tv verdict.TypeVerdict, shade func(int, verdict.Cell) verdict.Shade) pageType {
	pt := pageType{Verdict: tv.Verdict, Reason: tv.Reason, Declared: tv.Declared}
	var s, x, a strings.Builder
	for i, c := range tv.Cells {
		s.WriteByte(byte(shade(i, c)))
		if c.ArchDiffers {
			a.WriteByte('1')
		} else {
			a.WriteByte('0')
		}
		if c.Contradicts() {
			x.WriteByte('1')
		} else {
			x.WriteByte('0')
		}
		d := string(c.State)
		if len(c.Conditions) > 0 {
			d += " (" + strings.Join(c.Conditions, ", ") + ")"
		}
		if c.Detail != "" {
			d += ": " + c.Detail
		}
		pt.Details = append(pt.Details, b.intern(d))
	}
	pt.States, pt.Contra = s.String(), x.String()
	if b.data.Twins != nil {
		pt.Arch = a.String()
	}
	return pt
}

// addHelpers adds every helper's views to the page data, contradictions first, and returns
// the overview's rows and the program types and categories the filters offer.
func (b *pageBuilder) addHelpers(hs []verdict.HelperVerdict) (rows []pageRow, types, cats []string) {
	categories := map[string]bool{}
	typesSeen := map[string]bool{}
	helpers := append([]verdict.HelperVerdict(nil), hs...)
	// Contradictions first, then by id: the page opens on what needs fixing.
	sort.SliceStable(helpers, func(i, j int) bool {
		ci, cj := helpers[i].Verdict == verdict.Contradicted, helpers[j].Verdict == verdict.Contradicted
		if ci != cj {
			return ci
		}
		return helpers[i].ID < helpers[j].ID
	})
	for _, hv := range helpers {
		categories[hv.Category] = true
		ph := pageHelper{ID: hv.ID, Name: hv.Name, Category: hv.Category, Verdict: hv.Verdict, Problems: hv.Problems, Types: map[string]pageType{}}
		// The existence view shows each kernel as the overview does, so that the script
		// paints a cell after a filter change as the page first showed it.
		ph.Types["*"] = b.pack(hv.Existence, func(i int, _ verdict.Cell) verdict.Shade { s, _ := hv.Overview(i); return s })
		for _, tv := range hv.Types {
			ph.Types[tv.ProgType] = b.pack(tv, func(_ int, c verdict.Cell) verdict.Shade { return c.Shade() })
			typesSeen[tv.ProgType] = true
		}
		b.data.Helpers = append(b.data.Helpers, ph)
		rows = append(rows, pageRow{ID: hv.ID, Name: hv.Name, Category: hv.Category, Verdict: hv.Verdict,
			Problems: strings.Join(hv.Problems, "\n"), Cells: overviewCells(hv.Availability, "bpf_"+hv.Name, "unknown", b.data.Twins)})
	}
	return rows, slices.Sorted(maps.Keys(typesSeen)), slices.Sorted(maps.Keys(categories))
}

// overviewCells are an entry's cells where one cell per kernel stands for all its program
// types: the kernel has it and offers it to so many types, lacks it (lacks names that), failed
// or said nothing. Shades are the verdict's; name names the entry in the cells' titles. twins
// (nil when every kernel is amd64) gives each kernel's amd64 twin: a cell whose answers differ
// from its twin's is marked and its title gives the twin's answer too.
func overviewCells(a verdict.Availability, name, lacks string, twins []int) []pageCell {
	var cells []pageCell
	for i, c := range a.Existence.Cells {
		shade, text, says := overviewCell(a, i, lacks)
		title := fmt.Sprintf("%s on %s: %s", name, c.Kernel, says)
		class := "s-" + string(shade)
		if c.Contradicts() {
			class += " contra"
		}
		if c.ArchDiffers && twins != nil && twins[i] >= 0 {
			_, twinText, twinSays := overviewCell(a, twins[i], lacks)
			class += " archdiff"
			title = fmt.Sprintf("%s on %s: %s, %s\nbut on %s (amd64): %s, %s", name, c.Kernel, text, says,
				a.Existence.Cells[twins[i]].Kernel, twinText, twinSays)
		}
		cells = append(cells, pageCell{Class: class, Text: text, Title: title})
	}
	return cells
}

// overviewCell is kernel i's overview of an entry: its shade, the cell's text and what its
// title says after the entry and kernel (state, detail, and why a known entry is grey).
func overviewCell(a verdict.Availability, i int, lacks string) (verdict.Shade, string, string) {
	c := a.Existence.Cells[i]
	shade, offered := a.Overview(i)
	title := string(c.State)
	if c.Detail != "" {
		title += ": " + c.Detail
	}
	var text string
	switch shade {
	case verdict.ShadeOffered, verdict.ShadeConditional:
		text = plural(offered, "type")
	case verdict.ShadeKnownNoType:
		text = "known, 0 types"
		title += " (the kernel has it but offers it to no program type probed here)"
	case verdict.ShadeUnknown:
		text = lacks
	case verdict.ShadeFailed:
		text = "failed"
	default:
		text = "?"
	}
	return shade, text, title
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
