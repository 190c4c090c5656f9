// Package objverdict answers, per program of a user's BPF object and per kernel, whether the
// kernel takes the program and why not: from the ELF and the registries alone (Static, for
// `bpfmatrix load --static`), or from what a booted kernel said (FromLoad), each refusal then
// explained in the registries' words (Explain). It summarizes a program's answers across kernels
// (Summarize) and renders them as text, JSON, Markdown and JUnit.
//
// The static answer knows what the registries know: which helpers and kfuncs a kernel release
// has and to which program types and attach points it offers them, which are GPL-only, and when
// a program type or attach type arrived. It does not know what only a kernel settles: whether
// maps can be created, CO-RE relocations match, the attach target exists or the verifier accepts
// what the program does. A static "loaded" therefore means "nothing the program calls rules it
// out", and a booted refusal the registries do not foresee is a registry gap or one of those
// limits.
package objverdict

import (
	"github.com/bpfmatrix/bpfmatrix/bpfobj"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// Answer is one (object, program, kernel) answer, as `bpfmatrix load` prints it. Its JSON keys
// are a contract with users' scripts: they are added to, never renamed.
type Answer struct {
	// Object is the object's file name as the user gave it; Program the program's function
	// name; Section its ELF section (libbpf's SEC()).
	Object  string `json:"object"`
	Program string `json:"program"`
	Section string `json:"section"`
	// ProgType, AttachType and Target are what the section means (bpfobj.Program), Target
	// after any --set retargeting when a kernel answered.
	ProgType   string `json:"prog_type"`
	AttachType string `json:"attach_type,omitempty"`
	Target     string `json:"target,omitempty"`
	// Kernel is the kernel's name in kernels.yaml; Version its release (5.10.262), or the
	// series when no exact build is pinned.
	Kernel  string `json:"kernel"`
	Version string `json:"version"`
	// Loaded is true when the kernel took the program (for a static answer: when nothing it
	// calls rules it out).
	Loaded bool `json:"loaded"`
	// Cause and Reason say why not ("" when loaded): one of observation.Causes, and the line
	// that decided it.
	Cause  observation.Cause `json:"cause"`
	Reason string            `json:"reason"`
	// Explanation is the registries' words for the refusal ("calls bpf_loop (id 181), offered
	// from 5.17; 5.10 does not define it"), "" when they have none.
	Explanation string `json:"explanation,omitempty"`
	// Calls is what the program uses, read from the ELF.
	Calls Calls `json:"calls"`
	// Attached, AttachError and Defaults are the booted kernel's (observation.ProgramLoad).
	Attached    *bool    `json:"attached,omitempty"`
	AttachError string   `json:"attach_error,omitempty"`
	Defaults    []string `json:"defaults,omitempty"`
	// Log is the end of the verifier's log of a refused program.
	Log string `json:"log,omitempty"`
	// Static is true for answers from the ELF and the registries alone (--static).
	Static bool `json:"static"`
}

// Calls is what a program uses, in the JSON shape of `bpfmatrix load`: what bpfobj read from
// the ELF, and the attach target the section names ("" for none).
type Calls struct {
	bpfobj.Calls
	Target string `json:"target"`
}

// Kernel is one kernel an answer is for: its name in kernels.yaml and its release.
type Kernel struct {
	Name, Version string
}

// CallsOf is what prog uses, with empty lists rather than nil ones so that the JSON always
// holds arrays.
func CallsOf(prog bpfobj.Program) Calls {
	return Calls{Calls: bpfobj.Calls{
		Helpers: append([]bpfobj.Helper{}, prog.Calls.Helpers...),
		Kfuncs:  append([]string{}, prog.Calls.Kfuncs...),
		Maps:    append([]bpfobj.Map{}, prog.Calls.Maps...),
	}, Target: prog.Target}
}

// base is the answer's part that depends on the program and the kernel only.
func base(object string, prog bpfobj.Program, k Kernel) Answer {
	return Answer{
		Object: object, Program: prog.Name, Section: prog.Section, ProgType: prog.ProgType,
		AttachType: prog.AttachType, Target: prog.Target, Kernel: k.Name, Version: k.Version,
		Calls: CallsOf(prog),
	}
}

// FromLoad is the answer of a booted kernel k: what the guest said of the program (pl), with the
// calls read from the ELF (prog) and the refusal explained in the registries' words.
func FromLoad(pl observation.ProgramLoad, k Kernel, prog bpfobj.Program, regs Registries) Answer {
	a := base(pl.Object, prog, k)
	if pl.Target != "" {
		a.Target = pl.Target
	}
	if a.ProgType == "" {
		a.ProgType, a.AttachType = pl.ProgType, pl.AttachType
	}
	a.Loaded, a.Cause, a.Reason = pl.Loaded, pl.Cause, pl.Reason
	a.Attached, a.AttachError, a.Defaults, a.Log = pl.Attached, pl.AttachError, pl.Defaults, pl.Log
	Explain(&a, prog, regs)
	return a
}

// KernelFailed is the answer for a program on a kernel whose guest failed: no statement about
// the program, only that the kernel gave none (why: the guest's error).
func KernelFailed(object string, prog bpfobj.Program, k Kernel, why string) Answer {
	a := base(object, prog, k)
	a.Cause = observation.CauseKernelFailed
	a.Reason = "the guest of kernel " + k.Name + " failed"
	if why != "" {
		a.Reason += ": " + why
	}
	return a
}
