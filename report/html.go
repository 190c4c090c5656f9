package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/verdict"
)

//go:embed report.html.tmpl
var htmlTemplate string

var pageTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"short":     short,
	"cellClass": func(s verdict.State) string { return "s-" + string(stateCode(s, nil)) },
}).Parse(htmlTemplate))

// stateCode is the one-letter code the page's script and style use for a cell state.
func stateCode(s verdict.State, conds []string) byte {
	switch s {
	case verdict.StateOffered:
		if len(conds) > 0 {
			return 'C'
		}
		return 'O'
	case verdict.StateRefused:
		return 'R'
	case verdict.StateUnknown:
		return 'U'
	case verdict.StateFailed:
		return 'F'
	}
	return 'N'
}

// pageType is one helper's answers in one program type (or its existence, under the key "*"),
// packed small because the page holds every helper x type x kernel: one state letter and one
// contradiction flag per kernel, and details as indexes into a shared string table (verifier
// lines repeat a lot).
type pageType struct {
	Verdict  verdict.Word `json:"v"`
	Reason   string       `json:"r"`
	States   string       `json:"s"`
	Contra   string       `json:"x"`
	Details  []int        `json:"d"`
	Declared bool         `json:"decl"`
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
	data := pageData{Kernels: []string{}, Strings: []string{}}
	for _, k := range r.Kernels {
		data.Kernels = append(data.Kernels, k.Name)
	}
	strIdx := map[string]int{}
	intern := func(s string) int {
		if i, ok := strIdx[s]; ok {
			return i
		}
		strIdx[s] = len(data.Strings)
		data.Strings = append(data.Strings, s)
		return strIdx[s]
	}
	pack := func(tv verdict.TypeVerdict) pageType {
		pt := pageType{Verdict: tv.Verdict, Reason: tv.Reason, Declared: tv.Declared}
		var s, x strings.Builder
		for _, c := range tv.Cells {
			s.WriteByte(stateCode(c.State, c.Conditions))
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
			pt.Details = append(pt.Details, intern(d))
		}
		pt.States, pt.Contra = s.String(), x.String()
		return pt
	}
	categories := map[string]bool{}
	typesSeen := map[string]bool{}
	helpers := append([]verdict.HelperVerdict(nil), r.Helpers...)
	// Contradictions first, then by id: the page opens on what needs fixing.
	sort.SliceStable(helpers, func(i, j int) bool {
		ci, cj := helpers[i].Verdict == verdict.Contradicted, helpers[j].Verdict == verdict.Contradicted
		if ci != cj {
			return ci
		}
		return helpers[i].ID < helpers[j].ID
	})
	var rows []pageRow
	for _, hv := range helpers {
		cat := categoryOf(r, hv)
		categories[cat] = true
		ph := pageHelper{ID: hv.ID, Name: hv.Name, Category: cat, Verdict: hv.Verdict, Problems: hv.Problems, Types: map[string]pageType{}}
		ph.Types["*"] = pack(hv.Existence)
		for _, tv := range hv.Types {
			ph.Types[tv.ProgType] = pack(tv)
			typesSeen[tv.ProgType] = true
		}
		data.Helpers = append(data.Helpers, ph)
		rows = append(rows, helperRow(hv, cat))
	}
	var types, cats []string
	for t := range typesSeen {
		types = append(types, t)
	}
	for c := range categories {
		cats = append(cats, c)
	}
	sort.Strings(types)
	sort.Strings(cats)
	return pageTmpl.Execute(w, map[string]any{
		"R":          r,
		"Rows":       rows,
		"Data":       data,
		"Types":      types,
		"Categories": cats,
		"KfuncRows":  r.kfuncRows(),
	})
}

// helperRow is a helper's row of the heat-map as the page first shows it: per kernel, whether
// the kernel knows the id and how many program types it offers the helper to.
func helperRow(hv verdict.HelperVerdict, cat string) pageRow {
	row := pageRow{ID: hv.ID, Name: hv.Name, Category: cat, Verdict: hv.Verdict, Problems: strings.Join(hv.Problems, "\n")}
	for i, c := range hv.Existence.Cells {
		offered := 0
		for _, tv := range hv.Types {
			if i < len(tv.Cells) && tv.Cells[i].State == verdict.StateOffered {
				offered++
			}
		}
		text := map[verdict.State]string{verdict.StateUnknown: "unknown", verdict.StateFailed: "failed", verdict.StateNoEvidence: "?"}[c.State]
		if c.State == verdict.StateOffered {
			text = plural(offered, "type")
		}
		title := fmt.Sprintf("bpf_%s on %s: %s", hv.Name, c.Kernel, c.State)
		if c.Detail != "" {
			title += ": " + c.Detail
		}
		class := "s-" + string(stateCode(c.State, nil))
		if c.State == verdict.StateOffered && offered == 0 {
			// The kernel knows the id but offers it to no program type probed here
			// (override_return on kernels built without CONFIG_BPF_KPROBE_OVERRIDE): not green.
			class, text = "s-R", "known, 0 types"
			title += " (the kernel knows the id but offers it to no program type probed here)"
		}
		if c.Contradicts() {
			class += " contra"
		}
		row.Cells = append(row.Cells, pageCell{Class: class, Text: text, Title: title})
	}
	return row
}

// categoryOf finds a helper's category; verdicts do not carry it, the report's registry does.
func categoryOf(r *Report, hv verdict.HelperVerdict) string {
	if r.categories == nil {
		return ""
	}
	return r.categories[hv.ID]
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
