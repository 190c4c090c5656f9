package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/mdtext"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// WriteMarkdown writes the summary people read in a pull request: one row per kernel, verdict
// counts, then every contradiction with its reason, for helpers and then kfuncs.
func (r *Report) WriteMarkdown(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# BPF helpers and kfuncs: compatibility report\n\n")
	fmt.Fprintf(b, "Registry `%s` (sha256 `%s`, %d helpers), %s.\n\n", r.Registry.File, short(r.Registry.SHA256), r.Registry.Helpers, r.Tool)

	fmt.Fprintf(b, "## Kernels\n\n")
	fmt.Fprintf(b, "| kernel | version | status | helpers known | unknown ids | no evidence | supported | gpl only | not for type | inconclusive | variant absent on this kernel | image sha256 |\n")
	fmt.Fprintf(b, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, k := range r.Kernels {
		status := k.Status
		if k.Error != "" {
			status += ": " + mdtext.Cell(firstLine(k.Error))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %d | %d | %d | %d | %d | %d | %d | %d | `%s` |\n",
			mdtext.Cell(k.Name), mdtext.Cell(k.Version), status, k.HelpersKnown, k.HelpersUnknown, k.HelpersNoEvidence,
			k.Outcomes[observation.Supported], k.Outcomes[observation.GPLOnly],
			k.Outcomes[observation.NotForType], k.Inconclusive(), k.VariantAbsent, short(k.SHA256))
	}
	for _, k := range r.Kernels {
		if len(k.AbsentTypes) > 0 {
			fmt.Fprintf(b, "\n%s: no answer for program types %s (absent or refused before verification).\n", mdtext.Cell(k.Name), strings.Join(k.AbsentTypes, ", "))
		}
		for _, e := range k.FailedAttempts {
			fmt.Fprintf(b, "\n%s: an earlier boot failed and the kernel was booted again: %s\n", mdtext.Cell(k.Name), mdtext.Cell(firstLine(e)))
		}
	}

	fmt.Fprintf(b, "\n## Helper verdicts\n\n| verdict | helpers |\n| --- | ---: |\n")
	words := make([]string, 0, len(r.Summary.Verdicts))
	for w := range r.Summary.Verdicts {
		words = append(words, string(w))
	}
	sort.Strings(words)
	for _, w := range words {
		fmt.Fprintf(b, "| %s | %d |\n", w, r.Summary.Verdicts[verdict.Word(w)])
	}

	fmt.Fprintf(b, "\n## Contradictions\n\n")
	if len(r.Summary.Contradicted) == 0 {
		fmt.Fprintf(b, "None: every registry entry agrees with every kernel that answered.\n")
	}
	for _, hv := range r.Helpers {
		if hv.Verdict != verdict.Contradicted {
			continue
		}
		fmt.Fprintf(b, "- **bpf_%s** (id %d)\n", hv.Name, hv.ID)
		for _, p := range hv.Problems {
			fmt.Fprintf(b, "  - %s\n", mdtext.Cell(p))
		}
	}
	if len(r.Summary.MissingTypes) > 0 {
		fmt.Fprintf(b, "\n## Program types the registry omits\n\n")
		for _, hv := range r.Helpers {
			if len(hv.MissingProgTypes) > 0 {
				fmt.Fprintf(b, "- bpf_%s: %s\n", hv.Name, strings.Join(hv.MissingProgTypes, ", "))
			}
		}
	}
	r.writeArchMarkdown(b)
	r.writeKfuncsMarkdown(b)
	r.writePointsMarkdown(b)
	if err := r.writeLoadsMarkdown(b); err != nil {
		return err
	}
	if len(r.Summary.FailedKernels) > 0 {
		fmt.Fprintf(b, "\n## Failed kernels\n\nTheir cells are no evidence either way.\n")
		for _, k := range r.Kernels {
			if !k.Failed() {
				continue
			}
			fmt.Fprintf(b, "\n### %s\n\n%s\n", k.Name, mdtext.Cell(k.Error))
			if k.ConsoleTail != "" {
				fmt.Fprintf(b, "\n```\n%s\n```\n", strings.ReplaceAll(tail(k.ConsoleTail, 20), "```", "'''"))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
