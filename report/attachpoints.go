package report

import (
	"fmt"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/mdtext"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// pointRow is one attach point claim of one helper or kfunc, as the Markdown summary and the
// page show it: the claim, its verdict and, per kernel, the answer of the variants that answer
// for the attach point.
type pointRow struct {
	Function, Key, Claim string
	Verdict              verdict.Word
	Reason               string
	Cells                []pageCell
}

// pointRows are the attach point claims of the report's helpers, then of its kfuncs.
func (r *Report) pointRows() []pointRow {
	var rows []pointRow
	add := func(name string, a verdict.Availability) {
		for _, pv := range a.AttachPoints {
			row := pointRow{Function: name, Key: pv.Key, Claim: pv.Claim, Verdict: pv.Verdict, Reason: pv.Reason}
			for _, c := range pv.Cells {
				title := fmt.Sprintf("%s at %s on %s: %s", name, pv.Key, c.Kernel, c.State)
				if c.Detail != "" {
					title += ": " + c.Detail
				}
				class := "s-" + string(c.Shade())
				if c.Contradicts() {
					class += " contra"
				}
				row.Cells = append(row.Cells, pageCell{Class: class, Text: pointText(c), Title: title})
			}
			rows = append(rows, row)
		}
	}
	for _, hv := range r.Helpers {
		add("bpf_"+hv.Name, hv.Availability)
	}
	for _, kv := range r.Kfuncs {
		add(kv.Name, kv.Availability)
	}
	return rows
}

// pointText is the word of an attach point cell: its state's own word where the state is an
// answer or a failed kernel, "?" where it says nothing about the attach point.
func pointText(c verdict.Cell) string {
	switch c.State {
	case verdict.StateOffered, verdict.StateRefused, verdict.StateFailed:
		return string(c.State)
	}
	return "?"
}

// writePointsMarkdown adds the attach point claims to the Markdown summary, when the registry
// records any: one row per claim with its verdict and the kernels' evidence.
func (r *Report) writePointsMarkdown(b *strings.Builder) {
	rows := r.pointRows()
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "\n## Attach points\n\nThe attach points whose facts the registry records because they answer otherwise than their program type.\n\n")
	fmt.Fprintf(b, "| function | attach point | registry | verdict | evidence |\n| --- | --- | --- | --- | --- |\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", mdtext.Cell(row.Function), mdtext.Cell(row.Key), mdtext.Cell(row.Claim), row.Verdict, mdtext.Cell(row.Reason))
	}
}
