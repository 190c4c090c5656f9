package objverdict

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/bpfobj"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// Registries are the tables answers are made from: the helper registry (helpers.yaml) and the
// kfunc registry (kfuncs.yaml).
type Registries struct {
	Helpers *registry.Registry
	Kfuncs  *registry.Kfuncs
}

// problem is one thing the registries say rules a program out on a kernel: its cause, a short
// sentence naming the function ("calls bpf_loop (id 181), offered from 5.17; 5.10 does not
// define it"), the registry's own sentence behind it, and the words a kernel's reason names the
// function by (to match a booted refusal to it).
type problem struct {
	cause         observation.Cause
	short, detail string
	names         []string
}

// question is what the problems of one program on one kernel are asked about.
type question struct {
	prog    bpfobj.Program
	where   string // the section, or the program type when the registry cannot read the section
	kernel  string // the kernel's name, as sentences show it
	version registry.Version
}

// problems lists what the registries say rules prog out on the kernel, in the order a load meets
// them: the program type, then kfuncs the kernel lacks and kfuncs a non-GPL program may not call
// (both settled before the verifier walks the program), then each helper (absent, not offered
// to the type, GPL-only), then kfuncs not offered to the type.
func (r Registries) problems(q question) []problem {
	var out []problem
	if p, ok := progTypeProblem(q); ok {
		out = append(out, p)
	}
	late := r.kfuncProblems(q, &out)
	for _, h := range q.prog.Calls.Helpers {
		if p, ok := r.helperProblem(q, h); ok {
			out = append(out, p)
		}
	}
	return append(out, late...)
}

// helperProblem is the first thing the helper registry says against helper h, if any.
func (r Registries) helperProblem(q question, h bpfobj.Helper) (problem, bool) {
	idWords := []string{"#" + strconv.Itoa(h.ID)}
	e, ok := r.Helpers.ByID(h.ID)
	if !ok {
		last := 0
		for _, x := range r.Helpers.Helpers() {
			last = max(last, x.ID)
		}
		s := fmt.Sprintf("calls helper id %d, which no kernel defines (the registry's ids end at %d)", h.ID, last)
		return problem{observation.CauseHelperUnknown, s, s, idWords}, true
	}
	names := append(idWords, e.CName())
	label := fmt.Sprintf("%s (id %d)", e.CName(), e.ID)
	if q.version.Less(e.MinKernel) {
		s := fmt.Sprintf("calls %s, offered from %s; %s does not define it", label, e.MinKernel, q.kernel)
		return problem{observation.CauseHelperUnknown, s, e.WhyNotOffered(q.prog.ProgType, q.version), names}, true
	}
	if q.where != "" {
		c, err := r.Helpers.CheckAt(e.Name, q.where, q.version)
		if err != nil { // a section the registry cannot place: ask for the program type
			c, err = r.Helpers.CheckAt(e.Name, q.prog.ProgType, q.version)
		}
		if err == nil && !c.OK {
			s := fmt.Sprintf("calls %s, not offered to %s", label, placeName(q.prog, c.AttachPoint))
			return problem{observation.CauseHelperNotForType, s, c.Reason, names}, true
		}
	}
	if e.GPLOnly && !q.prog.GPL {
		s := fmt.Sprintf("calls %s, offered only to GPL-compatible programs; the license is %q", label, q.prog.License)
		return problem{observation.CauseGPLOnly, s, s, names}, true
	}
	return problem{}, false
}

// kfuncProblems appends to out what rules kfuncs out before the verifier walks the program (a
// kfunc the kernel lacks, any kfunc in a non-GPL program) and returns the kfuncs not offered to
// the program's type, which the walk meets later.
func (r Registries) kfuncProblems(q question, out *[]problem) []problem {
	var late []problem
	for _, name := range q.prog.Calls.Kfuncs {
		names := []string{name}
		k, err := r.Kfuncs.Find(name)
		if err != nil {
			s := fmt.Sprintf("calls %s, which no kernel in the kfunc registry has", name)
			*out = append(*out, problem{observation.CauseKfuncUnknown, s, s, names})
			continue
		}
		if ok, why := k.Exists(q.version); !ok {
			s := fmt.Sprintf("calls %s, %s", name, why)
			if q.version.Less(k.MinKernel) {
				s = fmt.Sprintf("calls %s, offered from %s; %s does not have it", name, k.MinKernel, q.kernel)
			}
			*out = append(*out, problem{observation.CauseKfuncUnknown, s, why, names})
			continue
		}
		if !q.prog.GPL {
			s := fmt.Sprintf("calls %s, and kfuncs are callable only from GPL-compatible programs; the license is %q", name, q.prog.License)
			*out = append(*out, problem{observation.CauseGPLOnly, s, s, names})
			continue
		}
		if q.where == "" {
			continue
		}
		ok, why, p, err := k.CheckAt(q.where, q.version)
		if err != nil { // a section the registry cannot place: ask for the program type
			ok, why, p, err = k.CheckAt(q.prog.ProgType, q.version)
		}
		if err == nil && !ok {
			s := fmt.Sprintf("calls %s, not callable from %s", name, placeName(q.prog, p.Key))
			late = append(late, problem{observation.CauseKfuncNotForType, s, why, names})
		}
	}
	return late
}

// placeName names where the program runs in a sentence: the attach point whose facts decided,
// else the program type.
func placeName(prog bpfobj.Program, attachPoint string) string {
	if attachPoint != "" {
		return attachPoint
	}
	return prog.ProgType + " programs"
}

// mentions reports whether a kernel's reason names the function p is about.
func (p problem) mentions(reason string) bool {
	for _, n := range p.names {
		if n == "" {
			continue
		}
		if strings.HasPrefix(n, "#") {
			// "#4" must not match "#44": the id ends where the digits do.
			for i := strings.Index(reason, n); i >= 0; {
				end := i + len(n)
				if end == len(reason) || reason[end] < '0' || reason[end] > '9' {
					return true
				}
				j := strings.Index(reason[end:], n)
				if j < 0 {
					break
				}
				i = end + j
			}
			continue
		}
		if strings.Contains(reason, n) {
			return true
		}
	}
	return false
}
