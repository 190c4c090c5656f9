package objverdict

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/bpfmatrix/bpfmatrix/internal/mdtext"
)

// cell is what a table shows for one answer: "ok", or the cause word; "-" when none.
func cell(a Answer, found bool) string {
	switch {
	case !found:
		return "-"
	case a.Loaded:
		return "ok"
	}
	return string(a.Cause)
}

// WriteText writes a table per object (programs x kernels, a cell "ok" or the cause), the
// summary line of each program, and each distinct refusal with its reason and explanation.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for i, obj := range r.Objects() {
		if i > 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintln(bw, obj)
		tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  PROGRAM\tSECTION\t%s\n", strings.Join(r.Kernels, "\t"))
		for _, p := range r.programsOf(obj) {
			cells := make([]string, len(r.Kernels))
			for j, k := range r.Kernels {
				cells[j] = cell(r.answer(p.Object, p.Program, p.Section, k))
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Program, p.Section, strings.Join(cells, "\t"))
		}
		tw.Flush()
		for _, p := range r.programsOf(obj) {
			fmt.Fprintf(bw, "  %s: %s\n", p.Program, p.Summary)
		}
		r.writeRefusals(bw, obj)
	}
	return bw.Flush()
}

// writeRefusals adds the registries' explanation of each distinct refusal of obj's programs, with
// the kernels it holds for; the summary lines above already give each cause and reason.
func (r *Report) writeRefusals(w io.Writer, obj string) {
	for _, p := range r.programsOf(obj) {
		for _, ref := range r.refusalsOf(p) {
			if ref.a.Explanation != "" {
				fmt.Fprintf(w, "  %s on %s: %s\n", p.Program, strings.Join(ref.kernels, ", "), ref.a.Explanation)
			}
		}
	}
}

// refusal is one distinct refusal of a program and the kernels that said it.
type refusal struct {
	a       Answer
	kernels []string
}

// refusalsOf lists the distinct refusals of a program, in kernel order of their first kernel.
func (r *Report) refusalsOf(p ProgramSummary) []refusal {
	var out []refusal
	for _, k := range r.Kernels {
		a, ok := r.answer(p.Object, p.Program, p.Section, k)
		if !ok || a.Loaded {
			continue
		}
		merged := false
		for i := range out {
			if out[i].a.Cause == a.Cause && out[i].a.Reason == a.Reason && out[i].a.Explanation == a.Explanation {
				out[i].kernels = append(out[i].kernels, k)
				merged = true
			}
		}
		if !merged {
			out = append(out, refusal{a, []string{k}})
		}
	}
	return out
}

// programsOf lists the summaries of obj's programs.
func (r *Report) programsOf(obj string) []ProgramSummary {
	var out []ProgramSummary
	for _, p := range r.Programs {
		if p.Object == obj {
			out = append(out, p)
		}
	}
	return out
}

// WriteMarkdown writes a section per object: a table of programs x kernels, each refused cell
// holding its cause, then the summaries and the refusals' reasons.
func (r *Report) WriteMarkdown(w io.Writer) error { return r.WriteMarkdownAt(w, 1) }

// WriteMarkdownAt writes WriteMarkdown's document with its title at heading level (1 for "#"),
// so that another document (report.md) can hold it as one of its sections.
func (r *Report) WriteMarkdownAt(w io.Writer, level int) error {
	bw := bufio.NewWriter(w)
	h := strings.Repeat("#", max(level, 1))
	fmt.Fprintln(bw, h+" BPF objects on kernels")
	for _, obj := range r.Objects() {
		fmt.Fprintf(bw, "\n%s# %s\n\n", h, mdtext.Cell(obj))
		fmt.Fprintf(bw, "| program | section | %s |\n", strings.Join(r.Kernels, " | "))
		fmt.Fprintf(bw, "|---|---|%s\n", strings.Repeat("---|", len(r.Kernels)))
		for _, p := range r.programsOf(obj) {
			cells := make([]string, len(r.Kernels))
			for j, k := range r.Kernels {
				a, ok := r.answer(p.Object, p.Program, p.Section, k)
				cells[j] = cell(a, ok)
				if ok && !a.Loaded {
					cells[j] = "`" + cells[j] + "`"
				}
			}
			fmt.Fprintf(bw, "| %s | `%s` | %s |\n", mdtext.Cell(p.Program), mdtext.Cell(p.Section), strings.Join(cells, " | "))
		}
		fmt.Fprintln(bw)
		for _, p := range r.programsOf(obj) {
			fmt.Fprintf(bw, "- **%s**: %s\n", mdtext.Cell(p.Program), mdtext.Cell(p.Summary))
			for _, ref := range r.refusalsOf(p) {
				fmt.Fprintf(bw, "  - %s: `%s` %s", strings.Join(ref.kernels, ", "), ref.a.Cause, mdtext.Cell(ref.a.Reason))
				if ref.a.Explanation != "" {
					fmt.Fprintf(bw, " (%s)", mdtext.Cell(ref.a.Explanation))
				}
				fmt.Fprintln(bw)
			}
		}
	}
	return bw.Flush()
}
