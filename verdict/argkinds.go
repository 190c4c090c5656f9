package verdict

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// ClaimArgKinds judges the declared argument types against what the verifier expects of each
// argument (the probe's argument pass).
const ClaimArgKinds = "argument kinds"

// argKind is a coarse kind both a declared C type and the verifier's words can be put in.
type argKind string

const (
	kindScalar  argKind = "scalar"
	kindMap     argKind = "map"
	kindCtx     argKind = "ctx"
	kindFunc    argKind = "func"
	kindPointer argKind = "pointer"
	// kindAny is an argument the verifier checks nothing of but that it holds a value (the
	// kernel's ARG_ANYTHING): the probe saw it refuse the register left unset and accept both
	// 0 and a map pointer there.
	kindAny argKind = "any"
)

// observedKind puts the verifier's expected= words (or the probe's "scalar", "size", "any") in
// a kind. 5.10 calls a number "inv".
func observedKind(expected []string) argKind {
	switch {
	case len(expected) == 0:
		return ""
	case slices.Contains(expected, "any"):
		return kindAny
	case slices.Contains(expected, "scalar") || slices.Contains(expected, "size") || slices.Contains(expected, "inv"):
		return kindScalar
	case slices.Contains(expected, "map_ptr") || slices.Contains(expected, "const_map_ptr"):
		return kindMap
	case len(expected) == 1 && expected[0] == "ctx":
		return kindCtx
	case slices.Contains(expected, "func"):
		return kindFunc
	}
	return kindPointer
}

// declaredKind puts a registry argument's C type in a kind.
func declaredKind(a registry.Arg) argKind {
	t := normType(a.Type)
	switch {
	case t == "struct bpf_map *":
		return kindMap
	case !strings.Contains(t, "*"):
		return kindScalar
	}
	return kindPointer
}

func normType(t string) string { return strings.Join(strings.Fields(t), " ") }

// untypedPointer reports whether a declared type is void * (const or not): a pointer that may
// carry any object, a map as well as a context.
func untypedPointer(a registry.Arg) bool {
	t := strings.TrimPrefix(normType(a.Type), "const ")
	return t == "void *"
}

// declaredStruct is X of a declared "struct X *" (const or not), "" for any other type.
func declaredStruct(a registry.Arg) string {
	t := strings.TrimPrefix(normType(a.Type), "const ")
	if !strings.HasPrefix(t, "struct ") || !strings.HasSuffix(t, " *") || strings.Count(t, "*") != 1 {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(t, "struct "), " *")
}

// argsEvidence picks the kernel whose argument pass speaks for a helper: the newest whose walk
// was complete (it saw every argument), else the newest that recorded one at all.
func argsEvidence(id int, ks []Kernel) (*Kernel, observation.HelperArgs, bool) {
	var kernel *Kernel
	var best observation.HelperArgs
	found := false
	for i := len(ks) - 1; i >= 0; i-- {
		if ks[i].Failed {
			continue
		}
		j := slices.IndexFunc(ks[i].Facts.HelperArgs, func(ha observation.HelperArgs) bool { return ha.HelperID == id })
		if j < 0 {
			continue
		}
		ha := ks[i].Facts.HelperArgs[j]
		if !found || (ha.Complete && !best.Complete) {
			kernel, best, found = &ks[i], ha, true
		}
		if best.Complete {
			break
		}
	}
	return kernel, best, found
}

// wrapperArgs are the argument names of the helper's BPF_CALL wrapper in k's BTF, nil without
// one.
func wrapperArgs(id int, k *Kernel) []string {
	for _, h := range k.Facts.BTFHelpers {
		if h.ID == id && h.Wrapper {
			return h.Args
		}
	}
	return nil
}

// argJudgement is one declared argument against what the verifier expects of it.
type argJudgement struct {
	confirmed bool
	open      string // why it is neither confirmed nor contradicted
	note      string // a remark on a confirmed argument
	bad       string // the contradiction
}

// judgeArg compares declared argument i (a) with what the verifier on kernel expects (o).
func judgeArg(i int, a registry.Arg, o observation.ArgKind, kernel string) argJudgement {
	d, ok := declaredKind(a), observedKind(o.Expected)
	label := fmt.Sprintf("argument %d (%s)", i+1, a.Name)
	switch {
	case ok == "":
		return argJudgement{open: fmt.Sprintf("%s: the probe gave the arguments before it no value the verifier took", label)}
	case d == kindPointer && ok == kindPointer && declaredStruct(a) != "" && o.BTFType != "" && declaredStruct(a) != o.BTFType:
		// The verifier also takes a struct that starts with the one it wants, which only
		// the kernel's BTF could tell: left open rather than contradicted.
		return argJudgement{open: fmt.Sprintf("%s is declared %s; the verifier wants a pointer to struct %s", label, a.Type, o.BTFType)}
	case d == ok, d == kindScalar && ok == kindAny, d == kindPointer && (ok == kindCtx || ok == kindFunc):
		return argJudgement{confirmed: true}
	case d == kindPointer && ok == kindMap && untypedPointer(a):
		return argJudgement{confirmed: true, note: fmt.Sprintf("%s is declared %s; the verifier wants a map", label, a.Type)}
	case d == kindPointer && ok == kindMap:
		return argJudgement{open: fmt.Sprintf("%s is declared %s; the verifier wants a map", label, a.Type)}
	case d == kindPointer && ok == kindAny:
		// ARG_ANYTHING: the verifier lets any value through, and the helper checks the
		// address itself when it runs (probe_read's unsafe_ptr): that the argument is a
		// pointer is neither confirmed nor contradicted by the verifier.
		return argJudgement{open: fmt.Sprintf("%s is declared %s; the verifier takes any value there (it checks no pointer kind: the helper checks the address when it runs)", label, a.Type)}
	case d == kindPointer && ok == kindScalar:
		return argJudgement{open: fmt.Sprintf("%s is declared a pointer; the verifier takes a number there", label)}
	}
	return argJudgement{bad: fmt.Sprintf("%s is declared %s (%s), the verifier on %s expects %s", label, a.Type, d, kernel, ok)}
}

// judgeArgKinds compares each declared argument with the kind the verifier expects of it, on
// the kernel argsEvidence picks. A declared number where the verifier wants a pointer, a map or
// the context (map_lookup_elem's key declared u64) is a contradiction. A declared number the
// verifier takes as any value is confirmed, and so is one in a register the verifier does not
// read but the helper's BPF_CALL wrapper takes (bpf_get_branch_snapshot's flags). A declared
// pointer the verifier takes as any value (probe_read's unsafe pointer) is left open, with the
// reason. A variadic "..." declares no kind: the fixed arguments decide.
func judgeArgKinds(h *registry.Helper, ks []Kernel) ClaimVerdict {
	cv := ClaimVerdict{Claim: ClaimArgKinds}
	k, ha, found := argsEvidence(h.ID, ks)
	if !found {
		cv.Verdict, cv.Evidence = NoEvidence, "no kernel recorded what the verifier expects of its arguments"
		return cv
	}
	kernel, wrapper := k.Name, wrapperArgs(h.ID, k)
	confirmed, fixed := 0, 0
	var open, bad []string
	for i, a := range h.Signature.Args {
		if a.Type == "..." {
			cv.Notes = append(cv.Notes, variadicNote(i, ha, kernel))
			continue
		}
		fixed++
		if i >= len(ha.Args) && ha.Complete && i < len(wrapper) && declaredKind(a) == kindScalar {
			// The helper takes the register (its BPF_CALL wrapper has a parameter for
			// it), and the verifier does not even read it: any number passes.
			confirmed++
			cv.Notes = append(cv.Notes, fmt.Sprintf("argument %d (%s): the verifier on %s does not read the register; the kernel's BPF_CALL wrapper takes it as %s, so any number passes",
				i+1, a.Name, kernel, wrapper[i]))
			continue
		}
		if i >= len(ha.Args) {
			open = append(open, missingArg(i, a, ha, kernel))
			continue
		}
		j := judgeArg(i, a, ha.Args[i], kernel)
		switch {
		case j.confirmed:
			confirmed++
			if j.note != "" {
				cv.Notes = append(cv.Notes, j.note)
			}
		case j.bad != "":
			bad = append(bad, j.bad)
		default:
			open = append(open, j.open)
		}
	}
	switch {
	case len(bad) > 0:
		cv.Verdict, cv.Evidence = Contradicted, strings.Join(bad, "; ")
	case confirmed == fixed:
		cv.Verdict, cv.Evidence = Confirmed, fmt.Sprintf("every argument has the kind the verifier on %s expects", kernel)
	default:
		cv.Verdict = Consistent
		cv.Evidence = fmt.Sprintf("%d of %d arguments confirmed on %s; %s", confirmed, fixed, kernel, strings.Join(open, "; "))
	}
	return cv
}

// missingArg says why declared argument i has no recorded kind.
func missingArg(i int, a registry.Arg, ha observation.HelperArgs, kernel string) string {
	label := fmt.Sprintf("argument %d (%s)", i+1, a.Name)
	if ha.Complete {
		return fmt.Sprintf("%s: the verifier on %s checks no such argument (%s)", label, kernel, ha.Variant)
	}
	return fmt.Sprintf("%s: not reached, the probe could not give argument %d what the verifier asked (%s)", label, len(ha.Args), ha.Detail)
}

// variadicNote describes what the verifier makes of the registers a "..." at position i stands
// for.
func variadicNote(i int, ha observation.HelperArgs, kernel string) string {
	if ha.Complete && len(ha.Args) <= i {
		return fmt.Sprintf("the variadic arguments (...) declare no kind; the verifier on %s checks no register after argument %d", kernel, i)
	}
	return fmt.Sprintf("the variadic arguments (...) declare no kind; the verifier on %s checks %d register(s) after argument %d", kernel, max(len(ha.Args)-i, 0), i)
}
