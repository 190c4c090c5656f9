package observation

import (
	"errors"
	"fmt"
)

// Cause is why a kernel refused one program of a user's BPF object (`bpfmatrix load`). Like the
// outcomes, the words are the spelling of the JSON output, the cache and the reports, which
// users' scripts compare: they never change, and new causes are added, never renamed.
type Cause string

// The causes, from the most specific to the least.
const (
	// CauseHelperUnknown: the program calls a helper id the kernel does not define.
	CauseHelperUnknown Cause = "helper_unknown"
	// CauseHelperNotForType: the kernel defines the helper but does not offer it to the program's
	// type or attach point.
	CauseHelperNotForType Cause = "helper_not_for_type"
	// CauseKfuncUnknown: the program calls a kfunc the kernel does not have.
	CauseKfuncUnknown Cause = "kfunc_unknown"
	// CauseKfuncNotForType: the kernel has the kfunc but does not offer it to the program's type
	// or attach point.
	CauseKfuncNotForType Cause = "kfunc_not_for_type"
	// CauseGPLOnly: a function the program calls is offered only to GPL-compatible programs.
	CauseGPLOnly Cause = "gpl_only"
	// CauseProgType: the kernel does not know the program type or its expected attach type.
	CauseProgType Cause = "prog_type"
	// CauseAttachTarget: the attach target the program names (a kernel function, a tracepoint,
	// an iterator, a struct_ops member) does not exist or may not be attached to.
	CauseAttachTarget Cause = "attach_target"
	// CauseCORERelocation: a CO-RE relocation found nothing to match in the kernel's BTF.
	CauseCORERelocation Cause = "core_relocation"
	// CauseMap: a map the program needs could not be created (a map type the kernel lacks, a
	// flag or size it refuses).
	CauseMap Cause = "map"
	// CauseBTF: the kernel refused the object's BTF, or has none that the program needs.
	CauseBTF Cause = "btf"
	// CauseVerifier: the verifier refused the program for what it does (a bad access, an
	// unbounded loop, a complexity limit), not for what it calls.
	CauseVerifier Cause = "verifier"
	// CauseLoader: cilium/ebpf's loader cannot take the object or program (weak symbols, a
	// relocation or section it does not support): no kernel was asked.
	CauseLoader Cause = "loader"
	// CauseKernelFailed: the kernel's guest failed (did not boot, crashed, hung, cut its
	// stream), so the program has no answer there; never a statement about the program.
	CauseKernelFailed Cause = "kernel_failed"
	// CauseUnknown: the kernel refused the program in words no rule knows; the reason keeps
	// them. Counted and reported, never guessed.
	CauseUnknown Cause = "unknown"
)

// Causes lists every cause word in the order above.
var Causes = []Cause{CauseHelperUnknown, CauseHelperNotForType, CauseKfuncUnknown, CauseKfuncNotForType,
	CauseGPLOnly, CauseProgType, CauseAttachTarget, CauseCORERelocation, CauseMap, CauseBTF, CauseVerifier,
	CauseLoader, CauseKernelFailed, CauseUnknown}

// Valid reports whether c is one of the cause words.
func (c Cause) Valid() bool {
	for _, w := range Causes {
		if c == w {
			return true
		}
	}
	return false
}

// CheckFor checks c as the cause of an answer that loaded or not: a loaded program has no
// cause, a refused one has one of the cause words. Load documents and `bpfmatrix load`
// reports hold their answers to this one rule.
func (c Cause) CheckFor(loaded bool) error {
	switch {
	case loaded && c != "":
		return fmt.Errorf("loaded but with cause %q", c)
	case !loaded && c == "":
		return errors.New("refused without a cause")
	case !loaded && !c.Valid():
		return fmt.Errorf("unknown cause %q", c)
	}
	return nil
}

// ProgramLoad is what one kernel answered when a program of a user's BPF object was loaded on its
// own, with the maps it needs: one result line of a guest that loads objects.
type ProgramLoad struct {
	// Object is the object's file name as the user gave it (its base name in the guest).
	Object string `json:"object"`
	// ObjectSHA256 is the hex SHA-256 of the object file: answers are cached by it.
	ObjectSHA256 string `json:"object_sha256"`
	// Program is the program's function name; Section its ELF section (libbpf's SEC()).
	Program string `json:"program"`
	Section string `json:"section"`
	// ProgType and AttachType are what the section means (the registry's program type name,
	// enum bpf_attach_type's attach type name or "").
	ProgType   string `json:"prog_type"`
	AttachType string `json:"attach_type,omitempty"`
	// Target is the attach target the program was loaded for, after any --set retargeting.
	Target string `json:"target,omitempty"`
	// Loaded is true when the kernel accepted the program.
	Loaded bool `json:"loaded"`
	// Cause and Reason say why it was refused ("" when loaded): Reason is the line that decided
	// it (the verifier's own line, the missing target, the failed relocation, the loader's words).
	Cause  Cause  `json:"cause,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Attached is set when the program loaded and its section names something to attach to:
	// true when it attached (and was detached again), false with AttachError when not.
	Attached    *bool  `json:"attached,omitempty"`
	AttachError string `json:"attach_error,omitempty"`
	// Defaults lists what was set in the guest that a loader sets at run time (a map's
	// max_entries 0 made 1, a pin path, a retargeted program, .kconfig values), each in words,
	// so that a reader knows the answer was not for the object exactly as it is.
	Defaults []string `json:"defaults,omitempty"`
	// Log is the end of the verifier's log of a refused program (at most a few KiB).
	Log string `json:"log,omitempty"`
	// Seconds is the time the load (and attach) took in the guest.
	Seconds float64 `json:"seconds"`
}

// checkLoads checks a load run's document: a guest block of a known status, no probe results
// beside the loads, the kernel's release when the guest is ok, and each load naming its object
// and program with a cause exactly when it was refused, in a known word. A failed guest's loads
// are checked too: they are kept for the report, so their words must be readable.
func (d *Document) checkLoads() error {
	switch st := d.Guest.Status; {
	case st == "":
		return errors.New("guest block has no status")
	case st != StatusOK && st != StatusFailed:
		return fmt.Errorf("guest status %q (want %q or %q)", st, StatusOK, StatusFailed)
	case len(d.Results) > 0:
		return errors.New("both probe results and loads")
	case st == StatusOK && d.Kernel.Release == "":
		return errors.New("guest ok but no kernel release")
	}
	for i, l := range d.Loads {
		if err := l.check(); err != nil {
			return fmt.Errorf("load %d (%s %s): %w", i, l.Object, l.Program, err)
		}
	}
	return nil
}

func (l *ProgramLoad) check() error {
	switch {
	case l.Object == "" || l.Program == "":
		return errors.New("no object or program name")
	case l.ObjectSHA256 == "":
		return errors.New("no object sha256")
	}
	return l.Cause.CheckFor(l.Loaded)
}
