package proposal

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// Change is one thing a proposal does to an entry, helper or kfunc, with the kernels' answers
// that call for it. For a fact the kernels contradict, or that the entry lacks, it names the
// registry key and its old and new values; an entry added, left unchanged or kept as it is
// (kfuncs sync) is one change with no key. `helpers sync` and `kfuncs sync` print them and
// write them with --format json. A registry value the kernels agree with is never changed, so
// the real releases people took from the kernel's history (5.8, between the tested 5.10 and
// nothing older) stay as they are.
type Change struct {
	// ID is a helper's id; 0 for a kfunc.
	ID   int    `json:"id,omitempty"`
	Name string `json:"name"`
	// Kind is Changed for a fact, or what happens to the whole entry: Added, Unchanged, Kept.
	Kind string `json:"kind"`
	// Key is the registry key: min_kernel, prog_types, prog_type_since, prog_type_until,
	// prog_type_gaps or attach_points, and for kfuncs also prototype, last_kernel, gaps and
	// flags. Empty for a change of the whole entry.
	Key string `json:"key,omitempty"`
	// ProgType is the program type a per-type key is about; empty for the entry's own keys
	// (and for a kfunc's, whose per-type keys change as a whole).
	ProgType string `json:"prog_type,omitempty"`
	// AttachPoint is, for a helper's attach_points, the attach point the change is about (a
	// kfunc's attach_points change as a whole).
	AttachPoint string `json:"attach_point,omitempty"`
	// Old and New are the values as the registry writes them ("6.12", "6.1..6.12"); empty when
	// absent. For a helper's prog_types they are the program type itself: added when only New
	// names it, removed when only Old does.
	Old string `json:"old"`
	New string `json:"new"`
	// Open marks a change the kernels call for without giving a value to write: an entry whose
	// id no tested kernel knows. A person decides; sync writes nothing for it.
	Open bool `json:"open,omitempty"`
	// Evidence is what the kernels answered, oldest first, runs of kernels with the same answer
	// joined ("5.10 unknown_id; 6.1..7.3 offered").
	Evidence string `json:"evidence"`
	// Kernels are the same answers one kernel at a time.
	Kernels []KernelAnswer `json:"kernels"`
}

// What a change does to an entry.
const (
	// Added: the kernels have an entry the file lacks.
	Added = "added"
	// Changed: a fact of the entry changes.
	Changed = "changed"
	// Unchanged: the kernels agree with the entry.
	Unchanged = "unchanged"
	// Kept: no kernel has the entry; it stays as it is.
	Kept = "kept"
)

// KernelAnswer is what one kernel said about an entry (whether it has it) or about an entry in
// one program type, with the verdict package's states.
type KernelAnswer struct {
	Kernel  string        `json:"kernel"`
	Version string        `json:"version"`
	State   verdict.State `json:"state"`
	Detail  string        `json:"detail,omitempty"`
}

// String renders the change as one reviewable line.
func (c Change) String() string {
	subject := c.Key
	if c.ProgType != "" && c.Key != "prog_types" {
		subject += "." + c.ProgType
	}
	if c.AttachPoint != "" {
		subject += "." + c.AttachPoint
	}
	var what string
	switch {
	case c.Key == "":
		what = c.Kind
	case c.Open:
		what = fmt.Sprintf("%s -> ? (no tested kernel has it: left for a person)", show(c.Old))
	case c.Key == "prog_types" && c.ProgType != "" && c.New != "":
		what = "add " + c.New
	case c.Key == "prog_types" && c.ProgType != "":
		what = "remove " + c.Old
	default:
		what = show(c.Old) + " -> " + show(c.New)
	}
	entry := c.Name
	if c.ID != 0 {
		entry = fmt.Sprintf("bpf_%s (%d)", c.Name, c.ID)
	}
	if subject != "" {
		entry += " " + subject
	}
	return fmt.Sprintf("%s: %s; evidence: %s", entry, what, c.Evidence)
}

func show(v string) string {
	if v == "" {
		return "(none)"
	}
	return strconv.Quote(v)
}

// runs joins the answers of consecutive kernels that said the same: "5.10 unknown_id;
// 6.1..7.3 offered".
func runs(answers []KernelAnswer) string {
	var out []string
	for i := 0; i < len(answers); i++ {
		j := i
		for j+1 < len(answers) && answers[j+1].State == answers[i].State {
			j++
		}
		names := answers[i].Kernel
		if j > i {
			names += ".." + answers[j].Kernel
		}
		out = append(out, names+" "+string(answers[i].State))
		i = j
	}
	return strings.Join(out, "; ")
}
