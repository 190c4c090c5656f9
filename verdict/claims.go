package verdict

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// The claims of an entry beyond existence, program types and the GPL flag, judged against the
// kernels' own definitions (their BTF) and the probe's variants.
const (
	ClaimIdentity    = "id and name"
	ClaimSignature   = "signature"
	ClaimAttachTypes = "attach_types"
	ClaimSleepable   = "sleepable_only"
)

// ClaimVerdict judges one claim of an entry, quoting the kernels' evidence once.
type ClaimVerdict struct {
	Claim   string `json:"claim"`
	Verdict Word   `json:"verdict"`
	// Evidence is what the kernels say, once, in one sentence.
	Evidence string `json:"evidence"`
	// Notes are differences that are not contradictions (argument names, arguments the
	// verifier fills in itself).
	Notes []string `json:"notes,omitempty"`
}

// kernelSpan names a list of kernels compactly: "6.12", or "6.12..7.3" for a run.
func kernelSpan(names []string) string {
	return compactList(names, "no kernel", func(first, last string, _ int) string { return first + ".." + last })
}

// compactList says a list in a few words, so that evidence never prints an empty list or a
// long one: the word none for no item, the item itself for one, and what many makes of the
// first, the last and how many more follow the first for several.
func compactList(items []string, none string, many func(first, last string, more int) string) string {
	switch len(items) {
	case 0:
		return none
	case 1:
		return items[0]
	}
	return many(items[0], items[len(items)-1], len(items)-1)
}

// btfKernels are the kernels that recorded their enum bpf_func_id, in version order.
func btfKernels(ks []Kernel) []Kernel {
	var out []Kernel
	for _, k := range ks {
		if !k.Failed && len(k.Facts.BTFHelperIDs) > 0 {
			out = append(out, k)
		}
	}
	return out
}

// judgeIdentity compares an entry's id and name with each kernel's enum bpf_func_id: an id no
// kernel defines, an id the kernels define under another name, and a name the kernels define
// under another id are each contradicted.
func judgeIdentity(h *registry.Helper, ks []Kernel) ClaimVerdict {
	cv := ClaimVerdict{Claim: ClaimIdentity}
	bk := btfKernels(ks)
	if len(bk) == 0 {
		cv.Verdict, cv.Evidence = NoEvidence, "no kernel recorded its enum bpf_func_id"
		return cv
	}
	var defining, named []string
	nameOfID := map[string][]string{} // the name kernels give h.ID -> kernels
	idOfName := map[int][]string{}    // the id kernels give h.Name -> kernels
	var lasts []string
	lastSeen := map[int][]string{}
	for _, k := range bk {
		if slices.Contains(k.Facts.BTFHelperIDs, h.ID) {
			defining = append(defining, k.Name)
		}
		last := k.Facts.BTFHelperIDs[len(k.Facts.BTFHelperIDs)-1]
		lastSeen[last] = append(lastSeen[last], k.Name)
		for _, d := range k.Facts.BTFHelpers {
			if d.ID == h.ID {
				nameOfID[d.Name] = append(nameOfID[d.Name], k.Name)
			}
			if d.Name == h.Name {
				idOfName[d.ID] = append(idOfName[d.ID], k.Name)
				named = append(named, k.Name)
			}
		}
	}
	for _, id := range sortedKeys(lastSeen) {
		lasts = append(lasts, fmt.Sprintf("%d on %s", id, kernelSpan(lastSeen[id])))
	}
	var problems []string
	if len(defining) == 0 {
		problems = append(problems, fmt.Sprintf("no kernel defines helper id %d: the last id is %s", h.ID, strings.Join(lasts, ", ")))
	}
	for _, name := range sortedKeys(nameOfID) {
		if name != h.Name {
			problems = append(problems, fmt.Sprintf("the kernels call id %d %s (%s), not %s", h.ID, name, kernelSpan(nameOfID[name]), h.Name))
		}
	}
	for _, id := range sortedKeys(idOfName) {
		if id != h.ID {
			problems = append(problems, fmt.Sprintf("the kernels call %s id %d (%s), not %d", h.Name, id, kernelSpan(idOfName[id]), h.ID))
		}
	}
	switch {
	case len(problems) > 0:
		cv.Verdict, cv.Evidence = Contradicted, strings.Join(problems, "; ")
	case len(nameOfID) == 0:
		// Old observations record ids without names: the id exists, the name is untested.
		cv.Verdict, cv.Evidence = Consistent, fmt.Sprintf("id %d exists on %s; no kernel recorded its name", h.ID, kernelSpan(defining))
	default:
		cv.Verdict, cv.Evidence = Confirmed, fmt.Sprintf("id %d is %s on %s", h.ID, h.Name, kernelSpan(named))
	}
	return cv
}

func sortedKeys[K string | int, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// verifierFilled names arguments a helper's BPF_CALL wrapper takes that no program passes: the
// verifier fills them in (timer_set_callback's aux, the *_storage_get helpers' gfp_flags).
var verifierFilled = map[string]bool{"aux": true, "gfp_flags": true}

// judgeSignature compares the number of declared arguments with the BPF_CALL wrappers the
// kernels implement the helper with. Differing argument names, a variadic declaration and
// arguments the verifier fills in are notes, not contradictions. Helpers without a wrapper
// (tail_call, some map and packet helpers) have no evidence here.
func judgeSignature(h *registry.Helper, ks []Kernel) ClaimVerdict {
	cv := ClaimVerdict{Claim: ClaimSignature}
	byProto := map[string][]string{} // "map, key" -> kernels
	for _, k := range btfKernels(ks) {
		for _, d := range k.Facts.BTFHelpers {
			if d.ID == h.ID && d.Name == h.Name && d.Wrapper {
				byProto[strings.Join(d.Args, ", ")] = append(byProto[strings.Join(d.Args, ", ")], k.Name)
			}
		}
	}
	if len(byProto) == 0 {
		cv.Verdict, cv.Evidence = NoEvidence, "no kernel implements it through a BPF_CALL wrapper"
		return cv
	}
	declared := make([]string, len(h.Signature.Args))
	variadic := false
	for i, a := range h.Signature.Args {
		declared[i] = a.Name
		variadic = variadic || a.Type == "..." || a.Name == "..."
	}
	var bad, ev []string
	for _, proto := range sortedKeys(byProto) {
		var args []string
		if proto != "" {
			args = strings.Split(proto, ", ")
		}
		ev = append(ev, fmt.Sprintf("%s(%s) on %s", h.CName(), proto, kernelSpan(byProto[proto])))
		passed := args
		for len(passed) > 0 && verifierFilled[passed[len(passed)-1]] {
			cv.Notes = append(cv.Notes, fmt.Sprintf("the kernels' wrapper takes %s, which the verifier fills in", passed[len(passed)-1]))
			passed = passed[:len(passed)-1]
		}
		switch {
		case variadic && len(passed) >= len(declared)-1:
			cv.Notes = append(cv.Notes, fmt.Sprintf("declared variadic; the wrapper takes %d fixed arguments", len(passed)))
		case len(passed) != len(declared):
			bad = append(bad, fmt.Sprintf("declares %d argument(s) (%s), the kernels' %s(%s) takes %d", len(declared), strings.Join(declared, ", "), h.CName(), proto, len(passed)))
		default:
			for i := range passed {
				if passed[i] != declared[i] {
					cv.Notes = append(cv.Notes, fmt.Sprintf("argument %d is named %s in the kernels, %s in the entry", i+1, passed[i], declared[i]))
				}
			}
		}
	}
	cv.Evidence = strings.Join(ev, "; ")
	if len(bad) > 0 {
		cv.Verdict, cv.Evidence = Contradicted, strings.Join(bad, "; ")
	} else {
		cv.Verdict = Confirmed
	}
	cv.Notes = dedupe(cv.Notes)
	return cv
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// variantFacts returns a kernel's facts about one variant of a program type.
func variantFacts(k Kernel, progType, variant string) (observation.VariantInfo, bool) {
	for _, pt := range k.Facts.ProgTypes {
		if pt.Name != progType {
			continue
		}
		for _, v := range pt.Variants {
			if v.Name == variant {
				return v, true
			}
		}
	}
	return observation.VariantInfo{}, false
}

// attachName is a variant's attach type as attach_types writes it: lower case, no BPF_.
func attachName(v observation.VariantInfo) string {
	return strings.ToLower(strings.TrimPrefix(v.AttachType, "BPF_"))
}
