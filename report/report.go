// Package report turns verdicts into the compatibility report people read and CI gates on: a
// stable JSON document, a Markdown summary and one self-contained HTML page with a heat-map of
// helpers x kernels.
package report

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/objverdict"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/registry/foreign"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// SchemaVersion is bumped when report.json changes incompatibly; additions keep it.
const SchemaVersion = 1

// Kernel is one kernel's observations with the facts a report shows about it.
type Kernel struct {
	verdict.Kernel
	ImageFacts
	GuestTrace
	BTFHelperIDs []int `json:"btf_helper_ids,omitempty"`
}

// GuestTrace is what a kernel's guest left behind for a person looking into a failure; a
// kernel's observations and its row in the report both carry it.
type GuestTrace struct {
	ConsoleTail string `json:"console_tail,omitempty"`
	// FailedAttempts are the errors of earlier boots of this kernel that failed (the harness
	// boots a failed kernel again): a kernel that crashed once and then answered is flaky.
	FailedAttempts []string `json:"failed_attempts,omitempty"`
}

// ImageFacts say which kernel build ran and how its guest went; a kernel's observations and its
// row in the report both carry them.
type ImageFacts struct {
	Release       string  `json:"release,omitempty"`
	Package       string  `json:"package,omitempty"`
	DebianVersion string  `json:"debian_version,omitempty"`
	SHA256        string  `json:"image_sha256,omitempty"`
	Accel         string  `json:"accel,omitempty"`
	BootSeconds   float64 `json:"boot_seconds,omitempty"`
	ProbeSeconds  float64 `json:"probe_seconds,omitempty"`
	// Arch is the architecture the kernel was built for; empty (omitted) for amd64, so that
	// the reports of amd64 kernels read as they did before architectures were told apart.
	Arch observation.Arch `json:"arch,omitempty"`
}

// KernelSummary is a kernel's row in the report.
type KernelSummary struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	ImageFacts
	// Status is the guest's status: observation.StatusOK or observation.StatusFailed.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	GuestTrace
	Outcomes map[observation.Outcome]int `json:"outcomes"`
	// HelpersKnown and HelpersUnknown count registry helpers whose id the kernel knows or
	// answers "unknown id" for; HelpersNoEvidence the rest.
	HelpersKnown      int `json:"helpers_known"`
	HelpersUnknown    int `json:"helpers_unknown"`
	HelpersNoEvidence int `json:"helpers_no_evidence"`
	// VariantAbsent counts the answers of attach variants this kernel does not have (an attach
	// type or program type it lacks: the cgroup unix hooks and uprobe multi on 5.10), which
	// the probe records as inconclusive: they are included in Outcomes, but they are no
	// inconclusive answer about an entry, and the kernel table counts them apart.
	VariantAbsent int `json:"variant_absent_answers"`
	// AbsentTypes lists program types no variant of which could answer on this kernel.
	AbsentTypes []string `json:"absent_prog_types,omitempty"`
	// Twin names, for a kernel built for another architecture than amd64, the amd64 kernel
	// of the same release its answers were compared with (ArchDifferences); empty when the
	// report has none.
	Twin string `json:"twin,omitempty"`
}

// Report is the whole compatibility report.
type Report struct {
	Schema   int                     `json:"schema"`
	Tool     string                  `json:"tool"`
	Registry RegistryInfo            `json:"registry"`
	Kernels  []KernelSummary         `json:"kernels"`
	Summary  Summary                 `json:"summary"`
	Helpers  []verdict.HelperVerdict `json:"helpers"`
	// Kfuncs are the kfunc verdicts, when the report was given a kfunc table (AddKfuncs).
	Kfuncs []verdict.KfuncVerdict `json:"kfuncs,omitempty"`
	// Loads are what `bpfmatrix load` answered for a user's BPF objects, when the report was
	// given a load.json (AddLoads); the same document as that file.
	Loads *objverdict.Report `json:"loads,omitempty"`
	// ArchDifferences are the answers of kernels built for another architecture than amd64
	// that differ from their amd64 twin's (KernelSummary.Twin); omitted when the report has
	// no such kernel or no such answer.
	ArchDifferences []ArchDifference `json:"arch_differences,omitempty"`

	// twins holds, per column of Kernels, the column of its amd64 twin or -1; nil when every
	// kernel is amd64.
	twins []int
}

// RegistryInfo says which registry the verdicts were computed against.
type RegistryInfo struct {
	File    string `json:"file"`
	SHA256  string `json:"sha256"`
	Helpers int    `json:"helpers"`
}

// Summary counts verdicts and names what needs attention.
type Summary struct {
	Verdicts      map[verdict.Word]int `json:"verdicts"`
	Contradicted  []string             `json:"contradicted"`
	MissingTypes  []string             `json:"missing_prog_types"`
	NoEvidence    []string             `json:"no_evidence"`
	FailedKernels []string             `json:"failed_kernels"`
	// Kfuncs summarizes the kfunc verdicts, when there are any.
	Kfuncs *KfuncSummary `json:"kfuncs,omitempty"`
}

// Build judges the registry against kernels and assembles the report. prov says which facts the
// entries of a foreign table state (nil: our own YAML, every fact). tool names the bpfmatrix
// build that produced it.
func Build(reg *registry.Registry, prov *foreign.Provenance, kernels []Kernel, tool string) *Report {
	ks := sortKernels(kernels)
	vks := make([]verdict.Kernel, len(ks))
	for i, k := range ks {
		vks[i] = k.Kernel
	}
	hvs := verdict.Judge(reg, prov, vks)
	r := &Report{
		Schema:   SchemaVersion,
		Tool:     tool,
		Registry: RegistryInfo{File: reg.File(), SHA256: reg.SHA256(), Helpers: reg.Len()},
		Helpers:  hvs,
		Summary: Summary{
			Verdicts:      map[verdict.Word]int{},
			Contradicted:  []string{},
			MissingTypes:  []string{},
			NoEvidence:    []string{},
			FailedKernels: []string{},
		},
		twins: twinsOf(ks),
	}
	r.ArchDifferences = archDifferences(ks, r.twins)
	r.markArchDiffs()
	for i, k := range ks {
		r.Kernels = append(r.Kernels, summarize(k, i, hvs))
		if r.twins != nil && r.twins[i] >= 0 {
			r.Kernels[i].Twin = ks[r.twins[i]].Name
		}
		if k.Failed {
			r.Summary.FailedKernels = append(r.Summary.FailedKernels, k.Name)
		}
	}
	for _, hv := range hvs {
		r.Summary.Verdicts[hv.Verdict]++
		switch hv.Verdict {
		case verdict.Contradicted:
			r.Summary.Contradicted = append(r.Summary.Contradicted, hv.Name)
		case verdict.NoEvidence:
			r.Summary.NoEvidence = append(r.Summary.NoEvidence, hv.Name)
		}
		if len(hv.MissingProgTypes) > 0 {
			r.Summary.MissingTypes = append(r.Summary.MissingTypes, hv.Name)
		}
	}
	return r
}

func summarize(k Kernel, col int, hvs []verdict.HelperVerdict) KernelSummary {
	s := KernelSummary{
		Name: k.Name, Version: versionText(k.Version), ImageFacts: k.ImageFacts,
		Status: observation.StatusOK, Error: k.Error, GuestTrace: k.GuestTrace, Outcomes: map[observation.Outcome]int{},
	}
	if k.Failed {
		s.Status = observation.StatusFailed
	}
	absent := absentVariants(k.Facts)
	answered := map[string]bool{}
	seenType := map[string]bool{}
	for _, r := range k.Results {
		s.Outcomes[r.Outcome]++
		if r.Outcome == observation.Inconclusive && absent[r.ProgType+"/"+r.Variant] {
			s.VariantAbsent++
		}
		seenType[r.ProgType] = true
		if r.Outcome != observation.Inconclusive {
			answered[r.ProgType] = true
		}
	}
	for t := range seenType {
		if !answered[t] {
			s.AbsentTypes = append(s.AbsentTypes, t)
		}
	}
	sort.Strings(s.AbsentTypes)
	for _, hv := range hvs {
		switch hv.Existence.Cells[col].State {
		case verdict.StateOffered:
			s.HelpersKnown++
		case verdict.StateUnknown:
			s.HelpersUnknown++
		default:
			s.HelpersNoEvidence++
		}
	}
	return s
}

// absentVariants are the attach variants the kernel could not load even a trivial program
// for, as "type/variant": every answer of theirs is inconclusive by construction.
func absentVariants(f observation.Facts) map[string]bool {
	out := map[string]bool{}
	for _, t := range f.ProgTypes {
		for _, v := range t.Variants {
			if !v.Usable {
				out[t.Name+"/"+v.Name] = true
			}
		}
	}
	return out
}

// Failed reports whether the kernel's guest failed.
func (k KernelSummary) Failed() bool { return k.Status == observation.StatusFailed }

// Inconclusive counts the kernel's inconclusive answers, without those of variants it does not
// have.
func (k KernelSummary) Inconclusive() int {
	return k.Outcomes[observation.Inconclusive] - k.VariantAbsent
}

// Failed reports whether the report should fail a CI job: a contradiction or a failed kernel.
func (r *Report) Failed() bool {
	kfuncs := r.Summary.Kfuncs != nil && len(r.Summary.Kfuncs.Contradicted) > 0
	return len(r.Summary.Contradicted) > 0 || len(r.Summary.FailedKernels) > 0 || kfuncs
}

// WriteFiles writes report.json, report.md and report.html into dir and returns their paths.
// A dir that is not a directory, or a report name there that is not a regular file (a device, a
// FIFO), is refused before any report is written, with an error wrapping files.ErrRefused.
func (r *Report) WriteFiles(dir string) ([]string, error) {
	outputs := []struct {
		name  string
		write func(*strings.Builder) error
	}{
		{"report.json", func(b *strings.Builder) error { return r.WriteJSON(b) }},
		{"report.md", func(b *strings.Builder) error { return r.WriteMarkdown(b) }},
		{"report.html", func(b *strings.Builder) error { return r.WriteHTML(b) }},
	}
	if err := files.MakeDir(dir); err != nil {
		return nil, err
	}
	for _, f := range outputs {
		if err := files.CheckTarget(filepath.Join(dir, f.name)); err != nil {
			return nil, err
		}
	}
	var paths []string
	for _, f := range outputs {
		var b strings.Builder
		if err := f.write(&b); err != nil {
			return paths, fmt.Errorf("report: %s: %w", f.name, err)
		}
		p := filepath.Join(dir, f.name)
		if err := files.WriteAtomic(p, []byte(b.String()), 0o644); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w interface{ Write([]byte) (int, error) }) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(r)
}

// versionText is a kernel's version for people; empty for a kernel that failed before anything
// said which version it is.
func versionText(v registry.Version) string {
	if v.IsZero() {
		return ""
	}
	return v.String()
}
