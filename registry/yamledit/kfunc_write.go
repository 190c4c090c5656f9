package yamledit

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// kfuncsHeader opens a written kfuncs.yaml: what the file is and how it is kept.
const kfuncsHeader = `# kfuncs.yaml: every kfunc (kernel function BPF programs call by BTF id) of the kernels in
# kernels.yaml, one entry each, in name order. The facts (prototype, releases, program types,
# flags) are written by ` + "`bpfmatrix kfuncs sync`" + ` from the kernels' observations; category,
# description, notes and sources other than "matrix" are people's and are kept by sync.
# Keys: name, prototype, min_kernel, last_kernel, gaps, prog_types, prog_type_since,
# prog_type_until, prog_type_gaps, attach_points, conditions, flags, module, category, description, sources, notes.
`

// MarshalKfuncs writes entries as a kfunc file that ParseKfuncs reads back unchanged.
func MarshalKfuncs(ks []*registry.Kfunc) []byte {
	var b strings.Builder
	b.WriteString(kfuncsHeader)
	if len(ks) == 0 {
		b.WriteString("[]\n")
	}
	for _, k := range ks {
		fmt.Fprintf(&b, "- name: %s\n", k.Name)
		fmt.Fprintf(&b, "  prototype: %s\n", quote(k.Prototype))
		fmt.Fprintf(&b, "  min_kernel: %q\n", k.MinKernel.String())
		if !k.LastKernel.IsZero() {
			fmt.Fprintf(&b, "  last_kernel: %q\n", k.LastKernel.String())
		}
		if len(k.Gaps) > 0 {
			fmt.Fprintf(&b, "  gaps: [%s]\n", gapList(k.Gaps))
		}
		if k.ProgTypes.All {
			b.WriteString("  prog_types: all\n")
		} else {
			fmt.Fprintf(&b, "  prog_types: [%s]\n", strings.Join(k.ProgTypes.Types, ", "))
		}
		writeVersionMap(&b, "prog_type_since", k.ProgTypeSince)
		writeVersionMap(&b, "prog_type_until", k.ProgTypeUntil)
		if len(k.ProgTypeGaps) > 0 {
			var parts []string
			for _, t := range sortedKeys(k.ProgTypeGaps) {
				parts = append(parts, fmt.Sprintf("%s: [%s]", t, gapList(k.ProgTypeGaps[t])))
			}
			fmt.Fprintf(&b, "  prog_type_gaps: {%s}\n", strings.Join(parts, ", "))
		}
		writeAttachPoints(&b, k.AttachPoints)
		writeConditions(&b, k.Conditions)
		if len(k.Flags) > 0 {
			fmt.Fprintf(&b, "  flags: [%s]\n", strings.Join(k.Flags, ", "))
		}
		if k.Module != "" {
			fmt.Fprintf(&b, "  module: %s\n", quote(k.Module))
		}
		fmt.Fprintf(&b, "  category: %s\n", k.Category)
		if k.Description != "" {
			fmt.Fprintf(&b, "  description: %s\n", quote(k.Description))
		}
		if len(k.Sources) > 0 {
			b.WriteString("  sources:\n")
			for _, key := range slices.Sorted(maps.Keys(k.Sources)) {
				fmt.Fprintf(&b, "    %s: %s\n", key, quote(k.Sources[key]))
			}
		}
		if k.Notes != "" {
			fmt.Fprintf(&b, "  notes: %s\n", quote(k.Notes))
		}
	}
	return []byte(b.String())
}

func writeVersionMap(b *strings.Builder, key string, m map[string]registry.Version) {
	if len(m) == 0 {
		return
	}
	var parts []string
	for _, t := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s: %q", t, m[t].String()))
	}
	fmt.Fprintf(b, "  %s: {%s}\n", key, strings.Join(parts, ", "))
}

// writeAttachPoints writes attach_points, one attach point a line, each as a flow mapping with
// the keys the loader reads. Keys are written plain, as helpers.yaml has them, unless they hold
// more than letters, digits, '_', '.', '/' and '-' (a module target's ':').
func writeAttachPoints(b *strings.Builder, m map[string]registry.AttachPoint) {
	writeKeyed(b, "attach_points", m, pointText)
}

// pointText is the facts of one attach point as a flow mapping, as both files write them.
func pointText(p registry.AttachPoint) string {
	var own []string
	if p.Refused {
		own = append(own, "offered: false")
	}
	return recordText(nil, p.Span, own, p.Evidence)
}

// writeConditions writes conditions, one program type a line, each as a flow mapping with the
// keys the loader reads.
func writeConditions(b *strings.Builder, m map[string]registry.Condition) {
	writeKeyed(b, "conditions", m, conditionText)
}

// conditionText is one program type's condition as a flow mapping.
func conditionText(c registry.Condition) string {
	return recordText([]string{"holds: [" + strings.Join(c.Holds, ", ") + "]"}, c.Span, nil, c.Evidence)
}

// writeKeyed writes the mapping name of keyed records (attach points, conditions), one key a
// line in key order (plain where plainKey allows), each record as text writes it. Nothing is
// written for no records.
func writeKeyed[V any](b *strings.Builder, name string, m map[string]V, text func(V) string) {
	if len(m) == 0 {
		return
	}
	b.WriteString("  " + name + ":\n")
	for _, key := range sortedKeys(m) {
		fmt.Fprintf(b, "    %s: %s\n", plainKey(key), text(m[key]))
	}
}

// recordText is one keyed record as a flow mapping, in the order the files keep: the keys
// before its span (holds), the span, the keys after it (offered), the evidence.
func recordText(first []string, s registry.Span, after []string, evidence string) string {
	parts := first
	if !s.Since.IsZero() {
		parts = append(parts, fmt.Sprintf("since: %q", s.Since.String()))
	}
	if !s.Until.IsZero() {
		parts = append(parts, fmt.Sprintf("until: %q", s.Until.String()))
	}
	if len(s.Gaps) > 0 {
		parts = append(parts, fmt.Sprintf("gaps: [%s]", gapList(s.Gaps)))
	}
	parts = append(parts, after...)
	parts = append(parts, "evidence: "+quote(evidence))
	return "{" + strings.Join(parts, ", ") + "}"
}

func gapList(gs []registry.Gap) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = strconv.Quote(g.String())
	}
	return strings.Join(parts, ", ")
}

// quote writes s as a double-quoted YAML scalar (JSON string syntax is valid YAML).
func quote(s string) string { return strconv.Quote(s) }

// plainKey writes a mapping key plain when YAML reads it back the same, else quoted.
func plainKey(key string) string {
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./-", r)) {
			return quote(key)
		}
	}
	return key
}
