package objverdict

import (
	"fmt"

	"github.com/bpfmatrix/bpfmatrix/bpfobj"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// callCauses are the causes the registries can explain: what a program calls, and its type.
var callCauses = map[observation.Cause]bool{
	observation.CauseHelperUnknown: true, observation.CauseHelperNotForType: true,
	observation.CauseKfuncUnknown: true, observation.CauseKfuncNotForType: true,
	observation.CauseGPLOnly: true, observation.CauseProgType: true,
}

// Explain sets a booted refusal's Explanation to the registries' words: the function of prog
// the kernel's cause is about ("calls bpf_loop (id 181), offered from 5.17; 5.10 does not define
// it"), preferring the one the kernel's reason names. A refusal for what the program calls that
// the registries do not foresee is said to be so: the registries then lack a fact. For a refusal
// whose cause no rule knew, the registries' own problems are given when they have any. Answers
// that loaded, and other causes, are left as they are.
func Explain(a *Answer, prog bpfobj.Program, regs Registries) {
	if a.Loaded || a.Cause == observation.CauseKernelFailed || a.Cause == observation.CauseLoader {
		return
	}
	v, err := registry.ParseVersion(a.Version)
	if err != nil {
		if v, err = registry.ParseVersion(a.Kernel); err != nil {
			return
		}
	}
	ps := regs.problems(question{prog: prog, where: where(prog), kernel: a.Kernel, version: v})
	switch {
	case a.Cause == observation.CauseUnknown && len(ps) > 0:
		a.Explanation = "the registries say: " + ps[0].short
	case callCauses[a.Cause]:
		if p, ok := pick(ps, a.Cause, a.Reason); ok {
			a.Explanation = p.short
			return
		}
		a.Explanation = fmt.Sprintf("the registries offer everything %s calls on %s: they lack the fact behind this refusal", prog.Name, a.Kernel)
	}
}

// pick is the problem of cause that the reason names, else the first of that cause.
func pick(ps []problem, cause observation.Cause, reason string) (problem, bool) {
	var first *problem
	for i, p := range ps {
		if p.cause != cause {
			continue
		}
		if p.mentions(reason) {
			return p, true
		}
		if first == nil {
			first = &ps[i]
		}
	}
	if first == nil {
		return problem{}, false
	}
	return *first, true
}
