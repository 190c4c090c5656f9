package report

import (
	"fmt"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/objverdict"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// AddLoads adds what `bpfmatrix load` answered for a user's BPF objects (its load.json): the
// report then shows them as a section of objects x kernels, next to the helpers and kfuncs.
func (r *Report) AddLoads(loads *objverdict.Report) {
	r.Loads = loads
}

// loadRow is one program's row of the page's objects table: a cell per kernel of the load
// report, and the program's summary line.
type loadRow struct {
	Object, Program, Section, Summary string
	Cells                             []pageCell
}

// loadKey names one program's answer on one kernel.
type loadKey struct{ object, program, section, kernel string }

// loadRows builds the objects table: per program, what each kernel said, the cause and reason
// of a refusal and the registries' explanation in the cell's title.
func (r *Report) loadRows() []loadRow {
	if r.Loads == nil {
		return nil
	}
	answers := map[loadKey]objverdict.Answer{}
	for _, a := range r.Loads.Loads {
		answers[loadKey{a.Object, a.Program, a.Section, a.Kernel}] = a
	}
	var rows []loadRow
	for _, p := range r.Loads.Programs {
		row := loadRow{Object: p.Object, Program: p.Program, Section: p.Section, Summary: p.Summary}
		for _, k := range r.Loads.Kernels {
			a, ok := answers[loadKey{p.Object, p.Program, p.Section, k}]
			if !ok {
				row.Cells = append(row.Cells, pageCell{Class: "s-N", Text: "-", Title: p.Program + " on " + k + ": no answer"})
				continue
			}
			row.Cells = append(row.Cells, loadCell(a))
		}
		rows = append(rows, row)
	}
	return rows
}

// loadCell is one answer's cell: "loaded" in the offered shade, a failed kernel in the failed
// one, else the cause word; the title holds the rest of the answer.
func loadCell(a objverdict.Answer) pageCell {
	title := fmt.Sprintf("%s (%s) on %s", a.Program, a.Section, a.Kernel)
	if a.Version != "" && a.Version != a.Kernel {
		title += " (" + a.Version + ")"
	}
	if a.Static {
		title += ", from the registries alone"
	}
	var c pageCell
	switch {
	case a.Loaded:
		c = pageCell{Class: "s-O", Text: "loaded", Title: title + ": loaded"}
		if a.Attached != nil && *a.Attached {
			c.Title += ", attached"
		} else if a.Attached != nil {
			c.Title += ", not attached: " + a.AttachError
		}
	case a.Cause == observation.CauseKernelFailed:
		c = pageCell{Class: "s-F", Text: string(a.Cause), Title: title + ": " + string(a.Cause) + ": " + a.Reason}
	default:
		c = pageCell{Class: "l-refused", Text: string(a.Cause), Title: title + ": " + string(a.Cause) + ": " + a.Reason}
	}
	if a.Explanation != "" {
		c.Title += "\n" + a.Explanation
	}
	if len(a.Defaults) > 0 {
		c.Title += "\ndefaults: " + strings.Join(a.Defaults, "; ")
	}
	return c
}

// writeLoadsMarkdown adds the load report's tables to the Markdown summary, as a section.
func (r *Report) writeLoadsMarkdown(b *strings.Builder) error {
	if r.Loads == nil {
		return nil
	}
	b.WriteString("\n")
	return r.Loads.WriteMarkdownAt(b, 2)
}
