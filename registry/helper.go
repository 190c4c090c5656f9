package registry

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Arg is one argument of a helper's C prototype.
type Arg struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Signature is a helper's C prototype as the kernel's uapi header declares it.
type Signature struct {
	Return string `json:"return"`
	Args   []Arg  `json:"args"`
}

// C renders the prototype as C, with the bpf_ prefix people see in headers.
func (s Signature) C(name string) string {
	args := make([]string, len(s.Args))
	for i, a := range s.Args {
		sep := " "
		if strings.HasSuffix(a.Type, "*") {
			sep = ""
		}
		args[i] = a.Type + sep + a.Name
	}
	if len(args) == 0 {
		args = []string{"void"}
	}
	sep := " "
	if strings.HasSuffix(s.Return, "*") {
		sep = ""
	}
	return fmt.Sprintf("%s%sbpf_%s(%s)", s.Return, sep, name, strings.Join(args, ", "))
}

// Helper is one BPF helper function's registry entry.
type Helper struct {
	// ID is the helper's number in the kernel's enum bpf_func_id.
	ID int `json:"id"`
	// Name is the C name without the bpf_ prefix, e.g. "map_lookup_elem".
	Name      string    `json:"name"`
	Signature Signature `json:"signature"`
	// Availability holds the kernels and program types the helper is offered to. A helper has
	// no last_kernel and no gaps: the kernel never removes one.
	Availability
	// GPLOnly is true when only programs with a GPL-compatible license may call the helper.
	GPLOnly     bool   `json:"gpl_only"`
	Category    string `json:"category"`
	Description string `json:"description"`

	// AttachTypes names the attach variants the helper is limited to, where it is limited.
	AttachTypes []string `json:"attach_types,omitempty"`
	// SleepableOnly is true for helpers only sleepable programs may call.
	SleepableOnly bool `json:"sleepable_only,omitempty"`
	// KernelConfig lists kernel build options the helper needs (CONFIG_...).
	KernelConfig []string `json:"kernel_config,omitempty"`
	// Remarks say where each fact came from and what reviewers should know (disagreements
	// between sources, for instance).
	Remarks

	line int // where the entry starts in its file, for messages
}

// MarshalJSON writes the entry with its keys in the order `helpers list --format json` has
// always printed them (the per-type facts after the description), which the embedded
// Availability alone would change.
func (h Helper) MarshalJSON() ([]byte, error) {
	a := &h.Availability
	return json.Marshal(struct {
		ID            int                    `json:"id"`
		Name          string                 `json:"name"`
		Signature     Signature              `json:"signature"`
		MinKernel     Version                `json:"min_kernel"`
		LastKernel    Version                `json:"last_kernel,omitzero"`
		Gaps          []Gap                  `json:"gaps,omitempty"`
		ProgTypes     ProgTypes              `json:"prog_types"`
		GPLOnly       bool                   `json:"gpl_only"`
		Category      string                 `json:"category"`
		Description   string                 `json:"description"`
		ProgTypeSince map[string]Version     `json:"prog_type_since,omitempty"`
		ProgTypeUntil map[string]Version     `json:"prog_type_until,omitempty"`
		ProgTypeGaps  map[string][]Gap       `json:"prog_type_gaps,omitempty"`
		AttachPoints  map[string]AttachPoint `json:"attach_points,omitempty"`
		AttachTypes   []string               `json:"attach_types,omitempty"`
		SleepableOnly bool                   `json:"sleepable_only,omitempty"`
		KernelConfig  []string               `json:"kernel_config,omitempty"`
		Sources       map[string]string      `json:"sources,omitempty"`
		Notes         string                 `json:"notes,omitempty"`
	}{h.ID, h.Name, h.Signature, a.MinKernel, a.LastKernel, a.Gaps, a.ProgTypes, h.GPLOnly, h.Category,
		h.Description, a.ProgTypeSince, a.ProgTypeUntil, a.ProgTypeGaps, a.AttachPoints, h.AttachTypes,
		h.SleepableOnly, h.KernelConfig, h.Sources, h.Notes})
}

// CName returns the helper's C name, with the bpf_ prefix.
func (h *Helper) CName() string { return "bpf_" + h.Name }

// Line returns the line of the registry file where the entry starts (0 when not loaded from a file).
func (h *Helper) Line() int { return h.line }

// Describe renders the entry for people: prototype, facts, conditions and description.
func (h *Helper) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (id %d)\n", h.CName(), h.ID)
	fmt.Fprintf(&b, "  %s\n", h.Signature.C(h.Name))
	gpl := "no"
	if h.GPLOnly {
		gpl = "yes"
	}
	fmt.Fprintf(&b, "  category:      %s\n", h.Category)
	fmt.Fprintf(&b, "  since kernel:  %s\n", h.MinKernel)
	fmt.Fprintf(&b, "  GPL only:      %s\n", gpl)
	fmt.Fprintf(&b, "  program types: %s\n", h.ProgTypes)
	for _, t := range slices.Sorted(maps.Keys(h.ProgTypeSince)) {
		fmt.Fprintf(&b, "    %s: from %s\n", t, h.ProgTypeSince[t])
	}
	for _, t := range slices.Sorted(maps.Keys(h.ProgTypeUntil)) {
		fmt.Fprintf(&b, "    %s: until %s\n", t, h.ProgTypeUntil[t])
	}
	for _, t := range slices.Sorted(maps.Keys(h.ProgTypeGaps)) {
		for _, g := range h.ProgTypeGaps[t] {
			fmt.Fprintf(&b, "    %s: not in %s\n", t, g)
		}
	}
	h.describePoints(&b)
	if len(h.AttachTypes) > 0 {
		fmt.Fprintf(&b, "  attach types:  %s\n", strings.Join(h.AttachTypes, ", "))
	}
	if h.SleepableOnly {
		fmt.Fprintf(&b, "  sleepable programs only\n")
	}
	if len(h.KernelConfig) > 0 {
		fmt.Fprintf(&b, "  needs:         %s\n", strings.Join(h.KernelConfig, ", "))
	}
	fmt.Fprintf(&b, "\n  %s\n", h.Description)
	if h.Notes != "" {
		fmt.Fprintf(&b, "\n  note: %s\n", h.Notes)
	}
	return b.String()
}
