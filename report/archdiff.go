package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/mdtext"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// ArchDifference is one question that a kernel built for another architecture than amd64
// answered otherwise than the amd64 kernel of the same release (its twin): the same function
// in the same attach variant, with a different outcome.
type ArchDifference struct {
	// Kernel and Twin name the two kernels' columns ("6.12-arm64", "6.12").
	Kernel string           `json:"kernel"`
	Twin   string           `json:"twin"`
	Arch   observation.Arch `json:"arch"`
	// Release is the release both kernels are builds of ("6.12").
	Release string `json:"release"`
	// Kind is "helper" or "kfunc"; Name the helper's name without bpf_ (empty for an id the
	// registry lacks) or the kfunc's; HelperID the helper's id.
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	HelperID int    `json:"helper_id,omitempty"`
	// Where is the attach variant asked, as "prog_type/variant".
	Where string `json:"where"`
	// Outcome and Words are the kernel's answer and the line that decided it; TwinOutcome
	// and TwinWords its amd64 twin's.
	Outcome     observation.Outcome `json:"outcome"`
	Words       string              `json:"words"`
	TwinOutcome observation.Outcome `json:"amd64_outcome"`
	TwinWords   string              `json:"amd64_words"`
}

// Function names the difference's function as people read it: bpf_<helper>, the kfunc's
// name, or the helper's id when the registry lacks it.
func (d ArchDifference) Function() string {
	switch {
	case d.Kind == "kfunc":
		return d.Name
	case d.Name != "":
		return "bpf_" + d.Name
	}
	return "helper #" + strconv.Itoa(d.HelperID)
}

// sortKernels orders kernels for the report's columns: by version, and the builds of one
// version amd64 first, each other architecture after it, so that twins stand side by side.
// The order is a version order, which verdicts (sorting stably by version) keep, so cells and
// columns agree.
func sortKernels(kernels []Kernel) []Kernel {
	ks := append([]Kernel(nil), kernels...)
	sort.SliceStable(ks, func(i, j int) bool {
		if c := ks[i].Version.Compare(ks[j].Version); c != 0 {
			return c < 0
		}
		return ks[i].Arch < ks[j].Arch // "" (amd64) first
	})
	return ks
}

// twinsOf returns, per column of ks, the column of its amd64 twin: the amd64 kernel of the
// same release (major.minor), preferring one that did not fail and then one of the very same
// version; -1 for an amd64 kernel or one without a twin. nil when every kernel is amd64.
func twinsOf(ks []Kernel) []int {
	var twins []int
	for i, k := range ks {
		if k.Arch == "" {
			continue
		}
		if twins == nil {
			twins = make([]int, len(ks))
			for j := range twins {
				twins[j] = -1
			}
		}
		best, bestScore := -1, -1
		for j, c := range ks {
			if c.Arch != "" || c.Version.IsZero() || c.Version.Series() != k.Version.Series() {
				continue
			}
			score := 0
			if !c.Failed {
				score += 2
			}
			if c.Version == k.Version {
				score++
			}
			if score > bestScore {
				best, bestScore = j, score
			}
		}
		twins[i] = best
	}
	return twins
}

// answerKey is one question a probe asks a kernel: a function in an attach variant.
type answerKey struct {
	helperID          int
	kfunc             string
	progType, variant string
}

func keyOf(r observation.Result) answerKey {
	return answerKey{r.HelperID, r.Kfunc, r.ProgType, r.Variant}
}

// archDifferences lists, kernel by kernel, the answers of each kernel of another architecture
// whose outcome differs from its twin's to the same question, in the kernel's result order.
// Questions only one of the two was asked, and pairs where either kernel failed, are not
// compared: a failed kernel's answers are no evidence.
func archDifferences(ks []Kernel, twins []int) []ArchDifference {
	var out []ArchDifference
	for i, tw := range twins {
		if tw < 0 || ks[i].Failed || ks[tw].Failed {
			continue
		}
		k, t := ks[i], ks[tw]
		theirs := make(map[answerKey]observation.Result, len(t.Results))
		for _, r := range t.Results {
			theirs[keyOf(r)] = r
		}
		for _, r := range k.Results {
			o, ok := theirs[keyOf(r)]
			if !ok || o.Outcome == r.Outcome {
				continue
			}
			d := ArchDifference{Kernel: k.Name, Twin: t.Name, Arch: k.Arch, Release: k.Version.Series().String(),
				Kind: "helper", Name: r.Helper, HelperID: r.HelperID, Where: r.ProgType + "/" + r.Variant,
				Outcome: r.Outcome, Words: r.Detail, TwinOutcome: o.Outcome, TwinWords: o.Detail}
			if r.Kfunc != "" {
				d.Kind, d.Name, d.HelperID = "kfunc", r.Kfunc, 0
			}
			out = append(out, d)
		}
	}
	return out
}

// cellKey names the cells a difference marks: a function's cell in one program type of one
// kernel, or (progType "") its existence cell there.
type cellKey struct {
	kernel   string
	helperID int
	kfunc    string
	progType string
}

// differingCells are the cells the differences mark: each difference's program type cell
// and its function's existence cell on the kernel.
func differingCells(diffs []ArchDifference) map[cellKey]bool {
	out := map[cellKey]bool{}
	for _, d := range diffs {
		k := cellKey{kernel: d.Kernel}
		if d.Kind == "kfunc" {
			k.kfunc = d.Name
		} else {
			k.helperID = d.HelperID
		}
		out[k] = true
		k.progType, _, _ = strings.Cut(d.Where, "/")
		out[k] = true
	}
	return out
}

// markAvailability sets ArchDiffers on the cells of one function's verdict that marked holds;
// base is the function's key without kernel and program type.
func markAvailability(a *verdict.Availability, base cellKey, marked map[cellKey]bool) {
	mark := func(cells []verdict.Cell, progType string) {
		for i := range cells {
			k := base
			k.kernel, k.progType = cells[i].Kernel, progType
			if marked[k] {
				cells[i].ArchDiffers = true
			}
		}
	}
	mark(a.Existence.Cells, "")
	for t := range a.Types {
		mark(a.Types[t].Cells, a.Types[t].ProgType)
	}
}

// markArchDiffs marks the helper and kfunc cells the report's differences concern. Marking
// only sets flags, so Build runs it for the helpers and AddKfuncs again once the kfuncs are in.
func (r *Report) markArchDiffs() {
	if len(r.ArchDifferences) == 0 {
		return
	}
	marked := differingCells(r.ArchDifferences)
	for h := range r.Helpers {
		markAvailability(&r.Helpers[h].Availability, cellKey{helperID: r.Helpers[h].ID}, marked)
	}
	for i := range r.Kfuncs {
		markAvailability(&r.Kfuncs[i].Availability, cellKey{kfunc: r.Kfuncs[i].Name}, marked)
	}
}

// writeArchMarkdown adds the section on kernels built for another architecture than amd64:
// which amd64 kernel each was compared with, and every answer that differs, with both
// kernels' words. Nothing when every kernel is amd64.
func (r *Report) writeArchMarkdown(b *strings.Builder) {
	if r.twins == nil {
		return
	}
	fmt.Fprintf(b, "\n## Differences between architectures\n\n")
	fmt.Fprintf(b, "Each kernel built for another architecture is compared with the amd64 kernel of the same release, question by question (function and attach variant).\n\n")
	for i, k := range r.Kernels {
		tw := r.twins[i]
		switch {
		case k.Arch == "":
			continue
		case tw < 0:
			fmt.Fprintf(b, "- %s: not compared: no amd64 kernel of release %s here.\n", mdtext.Cell(k.Name), mdtext.Cell(seriesText(k.Version)))
		case k.Failed() || r.Kernels[tw].Failed():
			fmt.Fprintf(b, "- %s: not compared with %s: a failed kernel's answers are no evidence.\n", mdtext.Cell(k.Name), mdtext.Cell(r.Kernels[tw].Name))
		default:
			fmt.Fprintf(b, "- %s (%s) compared with %s (%s): %s.\n", mdtext.Cell(k.Name), k.Version, mdtext.Cell(r.Kernels[tw].Name),
				r.Kernels[tw].Version, plural(r.CountDifferences(k.Name), "differing answer"))
		}
	}
	if len(r.ArchDifferences) == 0 {
		return
	}
	fmt.Fprintf(b, "\n| function | where | release | kernel | answer | amd64 answer | the kernel's words | the amd64 kernel's words |\n")
	fmt.Fprintf(b, "| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, d := range r.ArchDifferences {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", mdtext.Cell(d.Function()), mdtext.Cell(d.Where), d.Release,
			mdtext.Cell(d.Kernel), d.Outcome, d.TwinOutcome, mdtext.Cell(d.Words), mdtext.Cell(d.TwinWords))
	}
}

// CountDifferences counts the answers of the kernel named kernel that differ from its amd64
// twin's (ArchDifferences).
func (r *Report) CountDifferences(kernel string) int {
	n := 0
	for _, d := range r.ArchDifferences {
		if d.Kernel == kernel {
			n++
		}
	}
	return n
}

// seriesText is the release (major.minor) of a kernel's version text, or the text itself.
func seriesText(version string) string {
	v, err := registry.ParseVersion(version)
	if err != nil {
		return version
	}
	return v.Series().String()
}
