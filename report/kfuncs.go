package report

import (
	"fmt"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/mdtext"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// KfuncSummary counts the kfunc verdicts and names the contradicted entries.
type KfuncSummary struct {
	Registry     RegistryInfo         `json:"registry"`
	Verdicts     map[verdict.Word]int `json:"verdicts"`
	Contradicted []string             `json:"contradicted"`
	// PerKernel counts, per kernel, the kfuncs its BTF has.
	PerKernel map[string]int `json:"per_kernel"`
	// Answers counts the (kernel, kfunc, program type) answers for the kfuncs each kernel has,
	// over the program types every ok kernel of the report loads (lirc_mode2, which Debian's
	// kernels do not build, and types older kernels lack are left out); Inconclusive counts
	// those whose variants all answered inconclusive, with their reasons' counts in
	// InconclusiveReasons (by the first inconclusive variant's detail).
	Answers             int            `json:"answers"`
	Inconclusive        int            `json:"inconclusive"`
	InconclusiveReasons map[string]int `json:"inconclusive_reasons"`
	// OfferedWithConditions are the kfuncs kernels offer to a program type whose programs
	// may not hold the object the kfunc works on (report/conditions.go).
	OfferedWithConditions []ConditionalOffer `json:"offered_with_conditions"`
}

// AddKfuncs judges the kfunc table against the kernels the report was built from and adds the
// verdicts, their summary and the per-kernel counts to the report.
func (r *Report) AddKfuncs(table *registry.Kfuncs, kernels []Kernel) {
	kernels = sortKernels(kernels) // the columns' order, as Build's
	vks := make([]verdict.Kernel, len(kernels))
	for i, k := range kernels {
		vks[i] = k.Kernel
	}
	r.Kfuncs = verdict.JudgeKfuncs(table, vks)
	r.markArchDiffs()
	s := &KfuncSummary{
		Registry:     RegistryInfo{File: table.File(), SHA256: table.SHA256(), Helpers: table.Len()},
		Verdicts:     map[verdict.Word]int{},
		Contradicted: []string{},
		PerKernel:    map[string]int{},
	}
	for _, kv := range r.Kfuncs {
		s.Verdicts[kv.Verdict]++
		if kv.Verdict == verdict.Contradicted {
			s.Contradicted = append(s.Contradicted, kv.Name)
		}
	}
	for _, k := range kernels {
		if !k.Failed {
			s.PerKernel[k.Name] = len(k.Facts.Kfuncs)
		}
	}
	s.countInconclusive(kernels)
	s.OfferedWithConditions = conditionalOffers(r.Kfuncs, table)
	r.Summary.Kfuncs = s
}

// countInconclusive fills the summary's Answers, Inconclusive and InconclusiveReasons.
func (s *KfuncSummary) countInconclusive(kernels []Kernel) {
	s.InconclusiveReasons = map[string]int{}
	everywhere := map[string]int{}
	ok := 0
	for _, k := range kernels {
		if k.Failed {
			continue
		}
		ok++
		for _, t := range k.Facts.ProgTypes {
			if t.Present {
				everywhere[t.Name]++
			}
		}
	}
	for _, k := range kernels {
		if k.Failed {
			continue
		}
		// Per (kfunc, type): inconclusive only when no variant gave a definite answer.
		type pair struct{ kfunc, progType string }
		type answer struct {
			definite bool
			why      string // the first inconclusive variant's detail
		}
		answers := map[pair]*answer{}
		for _, res := range k.Results {
			if res.Kfunc == "" || everywhere[res.ProgType] != ok || res.Outcome == observation.UnknownID {
				continue
			}
			a := answers[pair{res.Kfunc, res.ProgType}]
			if a == nil {
				a = &answer{}
				answers[pair{res.Kfunc, res.ProgType}] = a
			}
			if res.Outcome != observation.Inconclusive {
				a.definite = true
			} else if a.why == "" {
				a.why = res.Detail
			}
		}
		for _, a := range answers {
			s.Answers++
			if !a.definite {
				s.Inconclusive++
				s.InconclusiveReasons[a.why]++
			}
		}
	}
}

// writeKfuncsMarkdown adds the kfunc section to the Markdown summary.
func (r *Report) writeKfuncsMarkdown(b *strings.Builder) {
	s := r.Summary.Kfuncs
	if s == nil {
		return
	}
	fmt.Fprintf(b, "\n## kfuncs\n\n`%s` (%d kfuncs). Per kernel:", s.Registry.File, s.Registry.Helpers)
	for _, k := range r.Kernels {
		if n, ok := s.PerKernel[k.Name]; ok {
			fmt.Fprintf(b, " %s %d;", mdtext.Cell(k.Name), n)
		}
	}
	if s.Answers > 0 {
		fmt.Fprintf(b, "\n\nAnswers (kernel, kfunc, program type) over the program types every kernel loads: %d, inconclusive %d (%.2f%%).",
			s.Answers, s.Inconclusive, 100*float64(s.Inconclusive)/float64(s.Answers))
	}
	fmt.Fprintf(b, "\n\n| verdict | kfuncs |\n| --- | ---: |\n")
	for _, w := range []verdict.Word{verdict.Confirmed, verdict.Interval, verdict.Consistent, verdict.Withdrawn, verdict.NoEvidence, verdict.Contradicted} {
		if n := s.Verdicts[w]; n > 0 {
			fmt.Fprintf(b, "| %s | %d |\n", w, n)
		}
	}
	s.writeConditionsMarkdown(b)
	for _, kv := range r.Kfuncs {
		if kv.Verdict != verdict.Contradicted {
			continue
		}
		fmt.Fprintf(b, "- **%s**\n", kv.Name)
		for _, f := range kv.Findings {
			fmt.Fprintf(b, "  - %s\n", mdtext.Cell(f.String()))
		}
	}
}

// kfuncRow is one kfunc's row of the page's kfunc heat-map.
type kfuncRow struct {
	Name, Category string
	Verdict        verdict.Word
	Problems       string
	Cells          []pageCell
}

// kfuncRows builds the kfunc heat-map: per kernel, whether the kernel has the kfunc and how
// many program types may call it there.
func (r *Report) kfuncRows() []kfuncRow {
	var rows []kfuncRow
	for _, kv := range r.Kfuncs {
		rows = append(rows, kfuncRow{Name: kv.Name, Category: kv.Category, Verdict: kv.Verdict,
			Problems: strings.Join(kv.Problems, "\n"), Cells: overviewCells(kv.Availability, kv.Name, "absent", r.twins)})
	}
	return rows
}
