package verdict

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// variantAnswer is one kernel's answer in one attach variant, with the variant's facts.
type variantAnswer struct {
	kernel Kernel
	r      observation.Result
	v      observation.VariantInfo
}

// answers lists every answer the kernels gave about helper id whose variant facts are known.
func answers(id int, ks []Kernel, idx resultIndex) []variantAnswer {
	var out []variantAnswer
	for i, k := range ks {
		if k.Failed {
			continue
		}
		for _, rs := range sortedTypes(idx[i][id]) {
			for _, r := range rs {
				if v, ok := variantFacts(k, r.ProgType, r.Variant); ok {
					out = append(out, variantAnswer{k, r, v})
				}
			}
		}
	}
	return out
}

func (a variantAnswer) String() string {
	return fmt.Sprintf("%s/%s on %s", a.r.ProgType, a.r.Variant, a.kernel.Name)
}

// judgeAttachTypes checks attach_types against the variants whose attach type it can speak
// for: in a program type that attach_types limits (it names one of the type's attach types),
// a variant of a listed attach type must not be refused and a variant of another one must not
// be offered. attach_types has no versions: it describes the newest kernels, so each type is
// judged on the newest kernel that the registry offers the helper to that type on and that
// answered. An entry without attach_types makes no claim.
func judgeAttachTypes(h *registry.Helper, ks []Kernel, idx resultIndex) (ClaimVerdict, bool) {
	if len(h.AttachTypes) == 0 {
		return ClaimVerdict{}, false
	}
	cv := ClaimVerdict{Claim: ClaimAttachTypes}
	all := answers(h.ID, ks, idx)
	newest := map[string]registry.Version{} // prog type -> newest kernel with a declared answer
	for _, a := range all {
		if h.OfferedTo(a.r.ProgType, a.kernel.Version) && newest[a.r.ProgType].Less(a.kernel.Version) {
			newest[a.r.ProgType] = a.kernel.Version
		}
	}
	// A listed attach type is confirmed when some variant of it is offered the helper (its
	// other variants may be refused for their attach target, as setsockopt is outside the tcp
	// and unix iterators); an unlisted one must not be offered anywhere. not_for_target is the
	// target's answer, not the attach type's: it counts for neither.
	offeredAt, refusedAt := map[string]variantAnswer{}, map[string]variantAnswer{}
	var bad []string
	for _, a := range all {
		at := attachName(a.v)
		if at == "" || a.kernel.Version != newest[a.r.ProgType] || !limitsType(h, a.kernel, a.r.ProgType) {
			continue
		}
		key := a.r.ProgType + " " + at
		plainOffer := a.r.Outcome.Offered() && a.r.Outcome != observation.NotForTarget
		switch {
		case plainOffer && !slices.Contains(h.AttachTypes, at):
			bad = append(bad, fmt.Sprintf("offered at %s (attach type %s, not listed)", a, at))
		case plainOffer:
			offeredAt[key] = a
		case a.r.Outcome == observation.NotForType:
			refusedAt[key] = a
		}
	}
	var good []string
	for _, key := range sortedKeys(refusedAt) {
		a := refusedAt[key]
		at := attachName(a.v)
		if _, ok := offeredAt[key]; ok || !slices.Contains(h.AttachTypes, at) {
			good = append(good, a.String())
			continue
		}
		bad = append(bad, fmt.Sprintf("refused at %s (attach type %s, listed): %s", a, at, a.r.Detail))
	}
	for _, key := range sortedKeys(offeredAt) {
		good = append(good, offeredAt[key].String())
	}
	switch {
	case len(bad) > 0:
		cv.Verdict, cv.Evidence = Contradicted, firstAndCount(bad)
	case len(good) == 0:
		cv.Verdict, cv.Evidence = NoEvidence, "no probed variant has an attach type the list speaks for"
	default:
		cv.Verdict, cv.Evidence = Confirmed, fmt.Sprintf("%d variant answers agree (e.g. %s)", len(good), good[0])
	}
	return cv, true
}

// limitsType reports whether attach_types names one of the attach types the kernel's variants
// of progType use: only then does the list limit that type.
func limitsType(h *registry.Helper, k Kernel, progType string) bool {
	for _, pt := range k.Facts.ProgTypes {
		if pt.Name != progType {
			continue
		}
		for _, v := range pt.Variants {
			if slices.Contains(h.AttachTypes, attachName(v)) {
				return true
			}
		}
	}
	return false
}

// judgeSleepable compares sleepable_only with the variants: a helper only sleepable programs
// may call is never offered to a non-sleepable variant, and is refused to one with the
// verifier's "might sleep" answer or offered to a sleepable one.
func judgeSleepable(h *registry.Helper, ks []Kernel, idx resultIndex) ClaimVerdict {
	cv := ClaimVerdict{Claim: ClaimSleepable}
	var plainOffer, sleepOnly, sleepOffer []string
	for _, a := range answers(h.ID, ks, idx) {
		switch {
		case a.r.Outcome == observation.SleepableOnly:
			sleepOnly = append(sleepOnly, a.String())
		case !a.r.Outcome.Offered():
		case a.v.Sleepable:
			sleepOffer = append(sleepOffer, a.String())
		default:
			plainOffer = append(plainOffer, a.String())
		}
	}
	if len(plainOffer)+len(sleepOnly) == 0 {
		// Offered to sleepable variants only, but no non-sleepable variant of those types was
		// told it might sleep (syscall programs are all sleepable): nothing tells the two apart.
		cv.Verdict, cv.Evidence = NoEvidence, "no non-sleepable variant was offered it or told it might sleep"
		return cv
	}
	observed := len(plainOffer) == 0
	switch {
	case observed == h.SleepableOnly && observed:
		cv.Verdict, cv.Evidence = Confirmed, fmt.Sprintf("offered to sleepable variants only; non-sleepable ones are told it might sleep (e.g. %s)", firstOf(sleepOnly, sleepOffer))
	case observed == h.SleepableOnly:
		cv.Verdict, cv.Evidence = Confirmed, fmt.Sprintf("offered to non-sleepable variants (e.g. %s)", plainOffer[0])
	case h.SleepableOnly:
		cv.Verdict, cv.Evidence = Contradicted, fmt.Sprintf("declared sleepable_only, but offered to non-sleepable variants: %s", firstAndCount(plainOffer))
	default:
		cv.Verdict, cv.Evidence = Contradicted, fmt.Sprintf("offered to sleepable variants only (%s); non-sleepable ones are told it might sleep (%s): sleepable_only is missing", firstAndCount(sleepOffer), firstAndCount(sleepOnly))
	}
	return cv
}

func firstOf(lists ...[]string) string {
	for _, l := range lists {
		if len(l) > 0 {
			return l[0]
		}
	}
	return ""
}

// firstAndCount quotes the first item and says how many more there are.
func firstAndCount(items []string) string {
	return compactList(items, "none", func(first, _ string, more int) string { return fmt.Sprintf("%s (and %d more)", first, more) })
}

// claimProblems lists the contradicted claims.
func claimProblems(claims []ClaimVerdict) []contradiction {
	var out []contradiction
	for _, c := range claims {
		if c.Verdict == Contradicted {
			out = append(out, contradiction{c.Claim, c.Claim + ": " + strings.TrimSpace(c.Evidence), c.Evidence})
		}
	}
	return out
}

// Finding is one distinct contradiction of an entry: what it concerns and why, once. A reason
// that several program types share (an id no kernel knows is refused in every type) is one
// finding naming them all.
type Finding struct {
	// Subjects are what the finding concerns: "min_kernel", program type names, a claim.
	Subjects []string `json:"subjects"`
	// Reason is the kernels' evidence in one sentence.
	Reason string `json:"reason"`
}

// String renders the finding as one line.
func (f Finding) String() string {
	subj := strings.Join(f.Subjects, ", ")
	if n := len(f.Subjects); n > 4 {
		subj = fmt.Sprintf("%d program types (%s ... %s)", n, f.Subjects[0], f.Subjects[n-1])
		if f.Subjects[0] == "min_kernel" {
			subj = fmt.Sprintf("min_kernel and %d program types (%s ... %s)", n-1, f.Subjects[1], f.Subjects[n-1])
		}
	}
	return subj + ": " + f.Reason
}

// quoted matches the parenthesized verifier lines and variant names of a reason.
var quoted = regexp.MustCompile(` \([^()]*\)`)

// findings groups an entry's contradictions by their reason.
func findings(cs []contradiction) []Finding {
	var out []Finding
	var keys []string
	for _, c := range cs {
		// Program types differ in the verifier line they quote (in parentheses); the finding
		// is the same, and its first quote stands for all.
		key := quoted.ReplaceAllString(c.reason, "")
		if i := slices.Index(keys, key); i >= 0 {
			out[i].Subjects = append(out[i].Subjects, c.subject)
			continue
		}
		out = append(out, Finding{Subjects: []string{c.subject}, Reason: c.reason})
		keys = append(keys, key)
	}
	return out
}
