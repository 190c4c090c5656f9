package report

import (
	"fmt"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/mdtext"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// ConditionalOffer is a kfunc some kernel offers to a program type only with conditions: the
// call verifies, but programs of the type may not hold the object the kfunc works on
// (verdict.CannotHold).
type ConditionalOffer struct {
	Kfunc    string `json:"kfunc"`
	ProgType string `json:"prog_type"`
	// Kernels are the kernels whose cell is offered with conditions, with those conditions.
	Kernels []KernelConditions `json:"kernels"`
	// Registry is the condition kfuncs.yaml records for the type, in a sentence; "" for none.
	Registry string `json:"registry,omitempty"`
}

// KernelConditions are one kernel's conditions of a conditional offer.
type KernelConditions struct {
	Kernel     string   `json:"kernel"`
	Conditions []string `json:"conditions"`
}

// conditionalOffers lists, per kfunc and program type in verdict order, the kernels that offer
// the kfunc to the type with a CannotHold condition.
func conditionalOffers(kvs []verdict.KfuncVerdict, table *registry.Kfuncs) []ConditionalOffer {
	out := []ConditionalOffer{}
	for _, kv := range kvs {
		for _, tv := range kv.Types {
			o := ConditionalOffer{Kfunc: kv.Name, ProgType: tv.ProgType}
			for _, c := range tv.Cells {
				if held := heldConditions(c); len(held) > 0 {
					o.Kernels = append(o.Kernels, KernelConditions{Kernel: c.Kernel, Conditions: held})
				}
			}
			if len(o.Kernels) == 0 {
				continue
			}
			if k, ok := table.Lookup(kv.Name); ok {
				if c, ok := k.Conditions[tv.ProgType]; ok {
					o.Registry = c.Explain(kv.Name, tv.ProgType)
				}
			}
			out = append(out, o)
		}
	}
	return out
}

// heldConditions are the CannotHold conditions of an offered cell.
func heldConditions(c verdict.Cell) []string {
	var out []string
	for _, cond := range c.Conditions {
		if strings.HasPrefix(cond, verdict.CannotHold) {
			out = append(out, cond)
		}
	}
	return out
}

// writeConditionsMarkdown lists the kfuncs offered with conditions.
func (s *KfuncSummary) writeConditionsMarkdown(b *strings.Builder) {
	if len(s.OfferedWithConditions) == 0 {
		return
	}
	fmt.Fprintf(b, "\nOffered with conditions (the call verifies, but programs of the type may not hold the object it works on):\n\n")
	for _, o := range s.OfferedWithConditions {
		var ks []string
		for _, k := range o.Kernels {
			ks = append(ks, k.Kernel+" "+strings.Join(k.Conditions, ", "))
		}
		registryText := "the registry records no condition"
		if o.Registry != "" {
			registryText = "the registry records it"
		}
		fmt.Fprintf(b, "- %s in %s: %s (%s)\n", mdtext.Cell(o.Kfunc), mdtext.Cell(o.ProgType), mdtext.Cell(strings.Join(ks, "; ")), registryText)
	}
}

// conditionRows are the page's rows of the offers with conditions: per kernel, the cell of the
// kfunc's program type.
func (r *Report) conditionRows() []pointRow {
	var rows []pointRow
	if r.Summary.Kfuncs == nil {
		return nil
	}
	for _, o := range r.Summary.Kfuncs.OfferedWithConditions {
		row := pointRow{Function: o.Kfunc, Key: o.ProgType, Claim: o.Registry}
		for _, kv := range r.Kfuncs {
			if kv.Name != o.Kfunc {
				continue
			}
			for _, tv := range kv.Types {
				if tv.ProgType != o.ProgType {
					continue
				}
				row.Verdict, row.Reason = tv.Verdict, tv.Reason
				for _, c := range tv.Cells {
					title := fmt.Sprintf("%s in %s on %s: %s", o.Kfunc, o.ProgType, c.Kernel, c.State)
					text := pointText(c)
					if held := heldConditions(c); len(held) > 0 {
						title += " with conditions (" + strings.Join(held, ", ") + ")"
						text = "offered*"
					}
					if c.Detail != "" {
						title += ": " + c.Detail
					}
					row.Cells = append(row.Cells, pageCell{Class: "s-" + string(c.Shade()), Text: text, Title: title})
				}
			}
		}
		rows = append(rows, row)
	}
	return rows
}
