package proposal

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/section"
)

// ArchDocument is one kernel's observation document with the file it was read from.
type ArchDocument struct {
	Path string
	Doc  *observation.Document
}

// ArchProposal is what comparing one architecture's documents with amd64's proposes.
type ArchProposal struct {
	// Table is the proposed archdiffs table: the releases compared now with their confirmed
	// differences, and the current table's entries of every other release, kept as they are.
	Table *registry.ArchDiffs
	// Compared are the releases compared now (two or more boots), a subset of Table.Compared.
	Compared []registry.ArchCompared
	// Confirmed are the differences every boot of a release compared now showed.
	Confirmed []registry.ArchDifference
	// Unconfirmed are differences a single boot showed: a second boot is needed.
	Unconfirmed []registry.ArchDifference
	// Unsettled are answers the boots of one release disagree on: some differ from amd64's,
	// others do not or differ otherwise. They are not recorded.
	Unsettled []ArchUnsettled
	// Notes say which documents and releases were left out, and why.
	Notes []string
}

// ArchUnsettled is one answer the boots of a release disagree on.
type ArchUnsettled struct {
	Kind    registry.FunctionKind `json:"kind"`
	Name    string                `json:"name"`
	Where   string                `json:"where"`
	Release registry.Version      `json:"release"`
	// Boots are the answers of the boots, in the order their documents were given, and
	// AMD64 amd64's.
	Boots []observation.Outcome `json:"boots"`
	AMD64 observation.Outcome   `json:"amd64_outcome"`
}

// String is the unsettled answer as one line.
func (u ArchUnsettled) String() string {
	words := make([]string, len(u.Boots))
	for i, o := range u.Boots {
		words[i] = string(o)
	}
	return fmt.Sprintf("%s at %s on %s: the boots answer %s; amd64: %s", u.Name, u.Where, u.Release, strings.Join(words, ", "), u.AMD64)
}

// releaseDocs are the documents of one release series, by architecture.
type releaseDocs struct {
	release registry.Version
	byArch  map[observation.Arch][]ArchDocument
}

// CompareArch compares the documents of arch (not amd64) with amd64's of the same release and
// proposes the archdiffs table from current (its entries of releases not compared now are
// kept). A release is compared when two or more of its arch documents (boots) are given with
// an amd64 one; a difference is recorded only when every boot gives the same answer, other
// than amd64's. Answers that are no fact (inconclusive, unclassified) on either side are not
// compared. A document without a usable kernel version is an error naming it.
func CompareArch(current *registry.ArchDiffs, arch observation.Arch, docs []ArchDocument) (ArchProposal, error) {
	var p ArchProposal
	if arch == observation.ArchAMD64 {
		return p, fmt.Errorf("amd64 is what the other architectures are compared with: name another one")
	}
	releases, notes, err := groupByRelease(docs)
	if err != nil {
		return p, err
	}
	p.Notes = notes
	for _, r := range releases {
		p.compareRelease(r, arch)
	}
	compared := slices.Clone(p.Compared)
	var diffs []registry.ArchDifference
	if current != nil {
		for _, c := range current.Compared {
			if !slices.ContainsFunc(p.Compared, func(n registry.ArchCompared) bool { return n.Release == c.Release && n.Arch == c.Arch }) {
				compared = append(compared, c)
			}
		}
		for _, d := range current.Differences {
			if !slices.ContainsFunc(p.Compared, func(n registry.ArchCompared) bool { return n.Release == d.Release && n.Arch == d.Arch }) {
				diffs = append(diffs, d)
			}
		}
	}
	p.Table = registry.NewArchDiffs(fileOf(current), compared, append(diffs, p.Confirmed...))
	return p, nil
}

// fileOf names the file of current, the embedded one's name when there is none.
func fileOf(current *registry.ArchDiffs) string {
	if current == nil {
		return registry.EmbeddedArchDiffsFile
	}
	return current.File()
}

// groupByRelease sorts the usable documents by release series and architecture; notes say
// which were left out.
func groupByRelease(docs []ArchDocument) ([]*releaseDocs, []string, error) {
	var out []*releaseDocs
	var notes []string
	for _, d := range docs {
		switch {
		case len(d.Doc.Loads) > 0:
			notes = append(notes, d.Path+": a load run's document: left out")
			continue
		case !d.Doc.OK():
			notes = append(notes, d.Path+": the guest failed: left out")
			continue
		}
		v, err := registry.ParseVersion(d.Doc.Kernel.Version)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: kernel version %q: %w", d.Path, d.Doc.Kernel.Version, err)
		}
		arch := observation.DefaultArch
		if d.Doc.Guest != nil && d.Doc.Guest.Arch != "" {
			arch = d.Doc.Guest.Arch
		}
		i := slices.IndexFunc(out, func(r *releaseDocs) bool { return r.release == v.Series() })
		if i < 0 {
			out = append(out, &releaseDocs{release: v.Series(), byArch: map[observation.Arch][]ArchDocument{}})
			i = len(out) - 1
		}
		out[i].byArch[arch] = append(out[i].byArch[arch], d)
	}
	slices.SortFunc(out, func(a, b *releaseDocs) int { return a.release.Compare(b.release) })
	return out, notes, nil
}

// answerKey identifies one answer within a release: the function and the variant.
type answerKey struct {
	kind              registry.FunctionKind
	name              string
	progType, variant string
}

// answers are one document's answers by key, with the attach point of each variant.
type answers struct {
	byKey map[answerKey]observation.Result
	order []answerKey
	where map[[2]string]string // (prog type, variant) -> attach point key
	// absent are the kfunc names the kernel has no kfunc of (Facts.KfuncsAbsent): it asks them
	// nothing, and its answer for each is unknown_id.
	absent map[string]bool
}

// absentWords is the words of a kfunc's answer on a kernel that has no kfunc of the name, which
// the probe decides without loading a program.
const absentWords = "no kfunc of the name in the kernel's BTF (kfuncs_absent)"

// answer is the document's answer at k: its result, or unknown_id for a kfunc it has none of.
func (a answers) answer(k answerKey) (observation.Result, bool) {
	if r, ok := a.byKey[k]; ok {
		return r, true
	}
	if k.kind == registry.KindKfunc && a.absent[k.name] {
		return observation.Result{Kfunc: k.name, ProgType: k.progType, Variant: k.variant, Outcome: observation.UnknownID, Detail: absentWords}, true
	}
	return observation.Result{}, false
}

// readAnswers indexes a document's answers. Helpers the kernel's BTF did not name (no registry
// name) are left out: no question can ask for them.
func readAnswers(d *observation.Document) answers {
	a := answers{byKey: map[answerKey]observation.Result{}, where: map[[2]string]string{}, absent: map[string]bool{}}
	for _, name := range d.KfuncsAbsent {
		a.absent[name] = true
	}
	for _, pt := range d.ProgTypes {
		for _, v := range pt.Variants {
			a.where[[2]string{pt.Name, v.Name}] = attachPoint(pt.Name, v)
		}
	}
	for _, r := range d.Results {
		k := answerKey{kind: registry.KindKfunc, name: r.Kfunc, progType: r.ProgType, variant: r.Variant}
		if r.Kfunc == "" {
			if r.Helper == "" {
				continue
			}
			k.kind, k.name = registry.KindHelper, "bpf_"+r.Helper
		}
		if _, dup := a.byKey[k]; !dup {
			a.order = append(a.order, k)
		}
		a.byKey[k] = r
	}
	return a
}

// attachPoint is the key the registry records a variant's facts under: its section's attach
// point, the bare type for a variant loaded as the type's default attachment; "" when the
// document does not say (an agent older than attach points), and such answers are not compared.
func attachPoint(progType string, v observation.VariantInfo) string {
	if v.Section == "" {
		if v.Name == progType {
			return progType
		}
		return ""
	}
	s, err := section.Parse(v.Section)
	if err != nil {
		return ""
	}
	return registry.AttachPointKey(s)
}

// fact reports whether an outcome is a fact about the function, which may be compared:
// inconclusive and unclassified answers say nothing about it.
func fact(o observation.Outcome) bool {
	return o.Valid() && o != observation.Inconclusive && o != observation.Unclassified
}

// compareRelease compares one release's arch documents with its amd64 ones.
func (p *ArchProposal) compareRelease(r *releaseDocs, arch observation.Arch) {
	amd, boots := r.byArch[observation.ArchAMD64], r.byArch[arch]
	switch {
	case len(boots) == 0:
		p.Notes = append(p.Notes, fmt.Sprintf("%s: no %s document: not compared", r.release, arch))
		return
	case len(amd) == 0:
		p.Notes = append(p.Notes, fmt.Sprintf("%s: no amd64 document to compare the %s ones with: not compared", r.release, arch))
		return
	}
	base, disagree := amd64Answers(amd)
	if disagree > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%s: the amd64 documents disagree on %d answers: those are not compared", r.release, disagree))
	}
	bootAnswers := make([]answers, len(boots))
	for i, b := range boots {
		bootAnswers[i] = readAnswers(b.Doc)
	}
	if len(boots) < 2 {
		p.Notes = append(p.Notes, fmt.Sprintf("%s: one %s boot (%s): a second boot is needed before its differences are recorded", r.release, arch, boots[0].Path))
	} else {
		p.Compared = append(p.Compared, registry.ArchCompared{Release: r.release, Arch: arch, Boots: len(boots)})
	}
	for _, k := range base.order {
		p.compareAnswer(r.release, arch, k, base, bootAnswers)
	}
	// The kfuncs amd64's kernel has none of, which the boots' kernels answer for.
	for _, k := range bootAnswers[0].order {
		if _, asked := base.byKey[k]; !asked && k.kind == registry.KindKfunc {
			p.compareAnswer(r.release, arch, k, base, bootAnswers)
		}
	}
	p.Notes = append(p.Notes, variantNotes(r.release, arch, amd[0].Doc, boots)...)
}

// variantNotes name the variants that load on one architecture and not on the other in every
// boot: their answers are inconclusive on one side, which is no fact about any function, so
// they are not compared as answers, but the reader of the comparison should know.
func variantNotes(release registry.Version, arch observation.Arch, amd *observation.Document, boots []ArchDocument) []string {
	usable := func(d *observation.Document, pt, v string) (observation.VariantInfo, bool) {
		for _, p := range d.ProgTypes {
			for _, vi := range p.Variants {
				if p.Name == pt && vi.Name == v {
					return vi, true
				}
			}
		}
		return observation.VariantInfo{}, false
	}
	var notes []string
	for _, pt := range amd.ProgTypes {
		for _, v := range pt.Variants {
			other, differs := observation.VariantInfo{}, true
			for _, b := range boots {
				vi, ok := usable(b.Doc, pt.Name, v.Name)
				differs = differs && ok && vi.Usable != v.Usable
				other = vi
			}
			if !differs {
				continue
			}
			if v.Usable {
				notes = append(notes, fmt.Sprintf("%s: %s/%s loads on amd64 but not on %s (%s): its answers are not compared", release, pt.Name, v.Name, arch, other.Reason))
			} else {
				notes = append(notes, fmt.Sprintf("%s: %s/%s loads on %s but not on amd64 (%s): its answers are not compared", release, pt.Name, v.Name, arch, v.Reason))
			}
		}
	}
	return notes
}

// compareAnswer compares one amd64 answer with every boot's.
func (p *ArchProposal) compareAnswer(release registry.Version, arch observation.Arch, k answerKey, base answers, boots []answers) {
	amd, ok := base.answer(k)
	where := boots[0].where[[2]string{k.progType, k.variant}]
	if !ok || !fact(amd.Outcome) || where == "" {
		return
	}
	outcomes := make([]observation.Outcome, len(boots))
	differ := 0
	for i, b := range boots {
		r, ok := b.answer(k)
		if !ok || !fact(r.Outcome) {
			return // a boot without a fact here: nothing to compare
		}
		outcomes[i] = r.Outcome
		if r.Outcome != amd.Outcome {
			differ++
		}
	}
	first, _ := boots[0].answer(k)
	d := registry.ArchDifference{Kind: k.kind, Name: k.name, Where: where, Release: release, Arch: arch,
		Outcome: first.Outcome, Words: first.Detail, AMD64Outcome: amd.Outcome, AMD64Words: amd.Detail}
	switch {
	case differ == 0:
	case differ == len(boots) && allSame(outcomes) && len(boots) >= 2:
		// Two variants loading at one attach point give one difference: the first's.
		if !slices.ContainsFunc(p.Confirmed, func(c registry.ArchDifference) bool {
			return c.Kind == d.Kind && c.Name == d.Name && c.Where == d.Where && c.Release == d.Release
		}) {
			p.Confirmed = append(p.Confirmed, d)
		}
	case differ == len(boots) && allSame(outcomes):
		p.Unconfirmed = append(p.Unconfirmed, d)
	default:
		p.Unsettled = append(p.Unsettled, ArchUnsettled{Kind: k.kind, Name: k.name, Where: where, Release: release, Boots: outcomes, AMD64: amd.Outcome})
	}
}

// amd64Answers are the answers of the amd64 documents of a release; an answer they disagree
// on (counted) is left out, since it is no fact of amd64 to compare with.
func amd64Answers(docs []ArchDocument) (answers, int) {
	base := readAnswers(docs[0].Doc)
	disagree := 0
	for _, d := range docs[1:] {
		other := readAnswers(d.Doc)
		for _, k := range base.order {
			if r, ok := other.byKey[k]; ok && r.Outcome != base.byKey[k].Outcome {
				delete(base.byKey, k)
				disagree++
			}
		}
	}
	base.order = slices.DeleteFunc(base.order, func(k answerKey) bool { _, ok := base.byKey[k]; return !ok })
	return base, disagree
}

func allSame(os []observation.Outcome) bool {
	return !slices.ContainsFunc(os, func(o observation.Outcome) bool { return o != os[0] })
}
