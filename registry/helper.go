package registry

import (
	"encoding/json"
	"fmt"
	"sort"
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

// ProgTypes is the set of program types a helper is offered to: either every type (All) or the
// listed ones. Types holds names from KnownProgTypes, sorted in kernel enum order.
type ProgTypes struct {
	All   bool
	Types []string
}

// Contains reports whether the set holds progType.
func (p ProgTypes) Contains(progType string) bool {
	if p.All {
		_, ok := ProgTypeID(progType)
		return ok
	}
	for _, t := range p.Types {
		if t == progType {
			return true
		}
	}
	return false
}

// String renders the set as "all" or a comma-separated list.
func (p ProgTypes) String() string {
	if p.All {
		return "all"
	}
	return strings.Join(p.Types, ", ")
}

// MarshalJSON writes the string "all" or an array of names, as the CLI's JSON contract says.
func (p ProgTypes) MarshalJSON() ([]byte, error) {
	if p.All {
		return json.Marshal("all")
	}
	if p.Types == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(p.Types)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *ProgTypes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s != "all" {
			return fmt.Errorf("prog_types: %q is neither \"all\" nor a list", s)
		}
		*p = ProgTypes{All: true}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("prog_types: %w", err)
	}
	*p = ProgTypes{Types: list}
	return nil
}

// Helper is one BPF helper function's registry entry.
type Helper struct {
	// ID is the helper's number in the kernel's enum bpf_func_id.
	ID int `json:"id"`
	// Name is the C name without the bpf_ prefix, e.g. "map_lookup_elem".
	Name      string    `json:"name"`
	Signature Signature `json:"signature"`
	// MinKernel is the first kernel release that has the helper at all.
	MinKernel Version   `json:"min_kernel"`
	ProgTypes ProgTypes `json:"prog_types"`
	// GPLOnly is true when only programs with a GPL-compatible license may call the helper.
	GPLOnly     bool   `json:"gpl_only"`
	Category    string `json:"category"`
	Description string `json:"description"`

	// ProgTypeSince holds, per program type, the first release that offers the helper to that
	// type, where that is later than MinKernel.
	ProgTypeSince map[string]Version `json:"prog_type_since,omitempty"`
	// ProgTypeUntil holds, per program type, the last release series that offers the helper to
	// that type, where a later kernel withdrew it.
	ProgTypeUntil map[string]Version `json:"prog_type_until,omitempty"`
	// ProgTypeGaps holds, per program type, ranges of release series between since and until
	// in which kernels withdrew the helper from the type and later offered it again.
	ProgTypeGaps map[string][]Gap `json:"prog_type_gaps,omitempty"`
	// AttachTypes names the attach variants the helper is limited to, where it is limited.
	AttachTypes []string `json:"attach_types,omitempty"`
	// SleepableOnly is true for helpers only sleepable programs may call.
	SleepableOnly bool `json:"sleepable_only,omitempty"`
	// KernelConfig lists kernel build options the helper needs (CONFIG_...).
	KernelConfig []string `json:"kernel_config,omitempty"`
	// Sources says where each fact came from, by field name.
	Sources map[string]string `json:"sources,omitempty"`
	// Notes records disagreements between sources and other remarks for reviewers.
	Notes string `json:"notes,omitempty"`

	// Written says how the entry's author wrote it, so that findings can name the entry as it
	// reads in the author's file: the keyword and place of an EDN entry
	// (":ktime-get-real-ns (guide.edn:12)"), the index, name and place of a JSON one
	// (`entry 3 "map_lookup_elem" (table.json:40)`), the name and place of a YAML one. It is
	// empty for tables read by Parse or Default; WrittenAs falls back to the name and line.
	Written string `json:"-"`
	// Format is the format of the table the entry was read from (FormatYAML, FormatEDN or
	// FormatJSON); it is empty for tables read by Parse or Default, which are YAML.
	Format Format `json:"-"`
	// Claims holds the registry keys (min_kernel, prog_types, gpl_only, ...) the author of a
	// foreign table wrote for this entry. Facts of keys it lacks are neutral defaults (gpl_only
	// false, no sources) that claim nothing; Claimed tells them apart. It is nil for entries of
	// our own YAML format, where every required key is written and so every fact is a claim.
	Claims Claims `json:"-"`

	line int // where the entry starts in its file, for messages
}

// CName returns the helper's C name, with the bpf_ prefix.
func (h *Helper) CName() string { return "bpf_" + h.Name }

// Line returns the line of the registry file where the entry starts (0 when not loaded from a file).
func (h *Helper) Line() int { return h.line }

// OfferedTo reports whether the registry declares the helper for progType on kernel, taking
// MinKernel, ProgTypes, ProgTypeSince, ProgTypeGaps and ProgTypeUntil into account. A zero kernel
// means "any kernel": only the program type is checked. It reads the entry literally: for ext,
// whose programs inherit the helpers of the program they replace, Registry.Check and
// Registry.Compatible answer for the target types as well.
func (h *Helper) OfferedTo(progType string, kernel Version) bool {
	r, _ := h.rule(progType, kernel)
	return r == offered
}

// Gap is a range of release series, both ends included, in which a helper is not offered to a
// program type that it is offered to before and after.
type Gap struct {
	From, To Version
}

// Contains reports whether kernel belongs to the gap; ends without a patch level name whole
// series (6.12 covers 6.12.118).
func (g Gap) Contains(kernel Version) bool {
	k := kernel.Series()
	return !k.Less(g.From.Series()) && !g.To.Series().Less(k)
}

// String renders the gap as it is written in the registry.
func (g Gap) String() string { return g.From.String() + ".." + g.To.String() }

// MarshalJSON writes the gap as its "FROM..TO" string.
func (g Gap) MarshalJSON() ([]byte, error) { return json.Marshal(g.String()) }

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
	for _, t := range sortedKeys(h.ProgTypeSince) {
		fmt.Fprintf(&b, "    %s: from %s\n", t, h.ProgTypeSince[t])
	}
	for _, t := range sortedKeys(h.ProgTypeUntil) {
		fmt.Fprintf(&b, "    %s: until %s\n", t, h.ProgTypeUntil[t])
	}
	for _, t := range sortedKeys(h.ProgTypeGaps) {
		for _, g := range h.ProgTypeGaps[t] {
			fmt.Fprintf(&b, "    %s: not in %s\n", t, g)
		}
	}
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
