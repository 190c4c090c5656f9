package verdict

import (
	"fmt"
	"slices"
	"strings"

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
)

// observedKind puts the verifier's expected= words (or "scalar", "size") in a kind.
func observedKind(expected []string) argKind {
	switch {
	case len(expected) == 0:
		return ""
	case slices.Contains(expected, "scalar") || slices.Contains(expected, "size"):
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
	t := strings.Join(strings.Fields(a.Type), " ")
	switch {
	case t == "struct bpf_map *":
		return kindMap
	case !strings.Contains(t, "*"):
		return kindScalar
	}
	return kindPointer
}

// judgeArgKinds compares each declared argument with the kind the newest kernel that recorded
// the helper's arguments expects. A declared number where the verifier wants a pointer, a map
// or the context (map_lookup_elem's key declared u64) is a contradiction; a declared pointer the
// verifier takes as any value (probe_read's unsafe pointer) is a note.
func judgeArgKinds(h *registry.Helper, ks []Kernel) ClaimVerdict {
	cv := ClaimVerdict{Claim: ClaimArgKinds}
	var kernel string
	var found bool
	var observed []argKind
	for i := len(ks) - 1; i >= 0 && !found; i-- {
		if ks[i].Failed {
			continue
		}
		for _, ha := range ks[i].Facts.HelperArgs {
			if ha.HelperID == h.ID {
				kernel, found = ks[i].Name, true
				for _, a := range ha.Args {
					observed = append(observed, observedKind(a.Expected))
				}
				break
			}
		}
	}
	if !found {
		cv.Verdict, cv.Evidence = NoEvidence, "no kernel recorded what the verifier expects of its arguments"
		return cv
	}
	confirmed := 0
	var bad []string
	for i, a := range h.Signature.Args {
		if a.Type == "..." || i >= len(observed) {
			continue
		}
		d, o := declaredKind(a), observed[i]
		switch {
		case d == o, d == kindPointer && (o == kindCtx || o == kindFunc):
			confirmed++
		case d == kindPointer && o == kindScalar:
			cv.Notes = append(cv.Notes, fmt.Sprintf("argument %d (%s) is declared a pointer; the verifier takes any value", i+1, a.Name))
		case d == kindPointer && o == kindMap:
			cv.Notes = append(cv.Notes, fmt.Sprintf("argument %d (%s) is declared %s; the verifier wants a map", i+1, a.Name, a.Type))
		default:
			bad = append(bad, fmt.Sprintf("argument %d (%s) is declared %s (%s), the verifier on %s expects %s", i+1, a.Name, a.Type, d, kernel, o))
		}
	}
	switch {
	case len(bad) > 0:
		cv.Verdict, cv.Evidence = Contradicted, strings.Join(bad, "; ")
	case confirmed == len(h.Signature.Args):
		cv.Verdict, cv.Evidence = Confirmed, fmt.Sprintf("every argument has the kind the verifier on %s expects", kernel)
	default:
		cv.Verdict, cv.Evidence = Consistent, fmt.Sprintf("%d of %d arguments confirmed on %s; the others are not told apart", confirmed, len(h.Signature.Args), kernel)
	}
	return cv
}
