package objverdict

import (
	"encoding/json"
	"io"
	"slices"
)

// Report is the answers of one `bpfmatrix load`: the kernels asked, in kernels.yaml order, every
// answer, and a summary per program. Its JSON is the command's --format json.
type Report struct {
	// Kernels are the kernels asked, by name, in kernels.yaml order.
	Kernels []string `json:"kernels"`
	// Loads are the answers, by object and program, each program's in kernel order.
	Loads []Answer `json:"loads"`
	// Programs are the programs' summaries, in the order of Loads.
	Programs []ProgramSummary `json:"programs"`
}

// ProgramSummary is one program's answers across kernels in a line.
type ProgramSummary struct {
	// Object, Program and Section name the program as its answers do.
	Object  string `json:"object"`
	Program string `json:"program"`
	Section string `json:"section"`
	// Summary is Summarize of the program's answers.
	Summary string `json:"summary"`
	// LoadsOn lists the kernels that took the program, in kernel order.
	LoadsOn []string `json:"loads_on"`
}

// NewReport gathers answers into a report: the answers ordered by object and program (in the
// order first given) and by kernel (in the order of kernels), and a summary per program.
func NewReport(kernels []string, answers []Answer) *Report {
	r := &Report{Kernels: slices.Clone(kernels), Loads: []Answer{}, Programs: []ProgramSummary{}}
	if r.Kernels == nil {
		r.Kernels = []string{}
	}
	for _, group := range r.group(answers) {
		r.Loads = append(r.Loads, group...)
		s := ProgramSummary{Object: group[0].Object, Program: group[0].Program, Section: group[0].Section,
			Summary: Summarize(group), LoadsOn: []string{}}
		for _, a := range group {
			if a.Loaded {
				s.LoadsOn = append(s.LoadsOn, a.Kernel)
			}
		}
		r.Programs = append(r.Programs, s)
	}
	return r
}

// group splits answers by (object, program), in the order first given, each group in kernel
// order.
func (r *Report) group(answers []Answer) [][]Answer {
	type key struct{ object, program, section string }
	index := map[key]int{}
	var groups [][]Answer
	for _, a := range answers {
		k := key{a.Object, a.Program, a.Section}
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], a)
	}
	for _, g := range groups {
		slices.SortStableFunc(g, func(a, b Answer) int { return r.kernelIndex(a.Kernel) - r.kernelIndex(b.Kernel) })
	}
	return groups
}

// kernelIndex is the place of kernel in the report's order; kernels not listed go last.
func (r *Report) kernelIndex(kernel string) int {
	if i := slices.Index(r.Kernels, kernel); i >= 0 {
		return i
	}
	return len(r.Kernels)
}

// AllLoaded reports whether every program loaded on every kernel: `bpfmatrix load` exits 0
// exactly then.
func (r *Report) AllLoaded() bool {
	for _, a := range r.Loads {
		if !a.Loaded {
			return false
		}
	}
	return true
}

// Objects lists the objects of the report in order.
func (r *Report) Objects() []string {
	var out []string
	for _, p := range r.Programs {
		if !slices.Contains(out, p.Object) {
			out = append(out, p.Object)
		}
	}
	return out
}

// answer finds the answer for a program on a kernel.
func (r *Report) answer(object, program, section, kernel string) (Answer, bool) {
	for _, a := range r.Loads {
		if a.Object == object && a.Program == program && a.Section == section && a.Kernel == kernel {
			return a, true
		}
	}
	return Answer{}, false
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
