package probe

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// planJSON is the plan the agent probes by (see Plan). It is embedded, so a new plan is a new
// agent binary: its hash, and with it the observation cache's key, changes with it.
//
//go:embed plan.json
var planJSON []byte

// Plan says, for the kernel releases it was learnt from, which (variant, function) pairs a
// probe must load and which it may answer with its program type's base variant's answer. It is
// learnt (LearnPlan) from exhaustive observations: a non-base variant is asked only the
// functions whose answer, on some learnt kernel, differed from its base variant's there or was
// missing; every other function of a learnt kernel is answered as the base answered it
// (observation.Result.From names the base). On a release the plan was not learnt from, the probe
// asks every pair.
type Plan struct {
	// Kernels are the releases the plan was learnt from, in the order learnt.
	Kernels []PlanKernel `json:"kernels"`
	// Variants are the non-base variants, by "prog_type/variant".
	Variants map[string]PlanVariant `json:"variants"`
}

// PlanKernel is one kernel release a plan was learnt from.
type PlanKernel struct {
	// Release is the kernel's uname release (observation.Facts.Kernel.Release).
	Release string `json:"release"`
	// Bases names each program type's base variant there: the first of the type's variants.
	Bases map[string]string `json:"bases"`
	// Helpers and Kfuncs are the functions the kernel's observation answered: only they are
	// known to answer alike.
	Helpers []int    `json:"helpers"`
	Kfuncs  []string `json:"kfuncs"`
	// KfuncClasses are the kfuncs the kernel refused for not being in a type's id sets
	// (verifierlog.TypeRefusedKfunc) in exactly the same variants, in classes of two or more,
	// each sorted: in a plain variant of the kfunc pass the first of a class, its sentinel, is
	// loaded, and where the kernel refuses it that way the others are answered from it (Result.Like).
	KfuncClasses [][]string `json:"kfunc_classes,omitempty"`
	// HelperClasses are the helpers the kernel refused for the program's type
	// (verifierlog.TypeRefusedHelper) in exactly the same variants, in classes of two or more.
	HelperClasses []PlanHelperClass `json:"helper_classes,omitempty"`
}

// PlanHelperClass is a class of helpers refused alike on a release: in each of Variants the
// first of Helpers (the class's sentinel) is loaded, and where the kernel refuses it for the
// type the others are answered from that refusal. Elsewhere every helper is loaded: only the
// refusal is shared.
type PlanHelperClass struct {
	// Helpers are the class's ids, sorted.
	Helpers []int `json:"helpers"`
	// Variants are the "type/variant" names that refused the whole class, sorted.
	Variants []string `json:"variants"`
}

// PlanVariant is what a plan says of one non-base variant.
type PlanVariant struct {
	// Releases are the learnt releases whose observation has the variant and its base usable
	// and the variant answering every helper: the plan speaks for the variant's helpers on
	// those only.
	Releases []string `json:"releases"`
	// KfuncReleases are those of Releases where the variant answered kfuncs (the kfunc pass
	// asks some variants none): the plan speaks for its kfuncs on those only.
	KfuncReleases []string `json:"kfunc_releases"`
	// Helpers and Kfuncs are the functions the variant must be asked itself.
	Helpers []int    `json:"helpers"`
	Kfuncs  []string `json:"kfuncs"`
}

// DefaultPlan returns the plan built into the probe.
func DefaultPlan() (*Plan, error) { return ParsePlan("probe/plan.json", planJSON) }

// embeddedPlanFor returns the part of the built-in plan a probe of release uses: that release's
// kernel, if the plan was learnt from it, and the variants. Marshal writes a kernel a line, so
// only that line is decoded: the whole plan (600 KB) cost every guest half a second of TCG time
// to read, and TestDefaultPlanReads reads it whole and strictly where it is built.
func embeddedPlanFor(release string) (*Plan, error) {
	const variantsKey = "\n\"variants\": "
	kernels, variants, ok := bytes.Cut(planJSON, []byte(variantsKey))
	if !ok {
		return nil, fmt.Errorf("probe/plan.json: no %q", strings.TrimSpace(variantsKey))
	}
	p := &Plan{}
	if err := json.NewDecoder(bytes.NewReader(variants)).Decode(&p.Variants); err != nil {
		return nil, fmt.Errorf("probe/plan.json: variants: %w", err)
	}
	name, _ := json.Marshal(release)
	prefix := append([]byte(`{"release":`), name...)
	for line := range bytes.Lines(kernels) {
		if !bytes.HasPrefix(line, prefix) || len(line) <= len(prefix) || line[len(prefix)] != ',' {
			continue
		}
		var k PlanKernel
		if err := json.Unmarshal(bytes.TrimSuffix(bytes.TrimSpace(line), []byte(",")), &k); err != nil {
			return nil, fmt.Errorf("probe/plan.json: kernel %s: %w", release, err)
		}
		p.Kernels = append(p.Kernels, k)
	}
	return p, nil
}

// ParsePlan reads a plan strictly: an unknown or repeated key, an empty release, a release
// twice, a variant name that is not "type/variant", a helper id below 1, an unsorted or
// repeated function, a variant release the plan does not list are errors naming name and
// the line.
func ParsePlan(name string, data []byte) (*Plan, error) {
	if line, err := checkKeys(data); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, lineAt(data, dec.InputOffset()), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s:%d: data after the plan", name, lineAt(data, dec.InputOffset()))
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, lineAt(data, int64(bytes.Index(data, []byte(err.at)))), err)
	}
	return &p, nil
}

// planError is a bad value of a plan; at is a piece of the file's text near it, for its line.
type planError struct {
	at  string
	msg string
}

func (e *planError) Error() string { return e.msg }

// check holds the plan's values to what LearnPlan writes.
func (p *Plan) check() *planError {
	if len(p.Kernels) == 0 {
		return &planError{`"kernels"`, "no kernels: a plan is learnt from at least one"}
	}
	releases := map[string]bool{}
	for _, k := range p.Kernels {
		at := fmt.Sprintf("%q", k.Release)
		switch {
		case k.Release == "":
			return &planError{`"release": ""`, "empty release"}
		case releases[k.Release]:
			return &planError{at, fmt.Sprintf("release %s twice", k.Release)}
		}
		releases[k.Release] = true
		if err := checkFuncs(at, k.Helpers, k.Kfuncs); err != nil {
			return err
		}
		if err := checkClasses(at, k); err != nil {
			return err
		}
		if err := checkHelperClasses(at, k); err != nil {
			return err
		}
	}
	for name, v := range p.Variants {
		at := fmt.Sprintf("%q", name)
		if typ, variant, ok := strings.Cut(name, "/"); !ok || typ == "" || variant == "" || strings.Contains(variant, "/") {
			return &planError{at, fmt.Sprintf("variant %q is not prog_type/variant", name)}
		}
		if len(v.Releases) == 0 {
			return &planError{at, fmt.Sprintf("variant %s: no releases", name)}
		}
		for _, r := range v.Releases {
			if !releases[r] {
				return &planError{at, fmt.Sprintf("variant %s: release %q is not among the kernels", name, r)}
			}
		}
		for _, r := range v.KfuncReleases {
			if !slices.Contains(v.Releases, r) {
				return &planError{at, fmt.Sprintf("variant %s: kfunc release %q is not among its releases", name, r)}
			}
		}
		if err := checkFuncs(at, v.Helpers, v.Kfuncs); err != nil {
			return err
		}
	}
	return nil
}

// checkFuncs checks that helpers are positive and both lists sorted without repeats.
func checkFuncs(at string, helpers []int, kfuncs []string) *planError {
	for i, id := range helpers {
		if id < 1 || i > 0 && id <= helpers[i-1] {
			return &planError{at, fmt.Sprintf("%s: helper ids must be positive, sorted and once each (%d)", at, id)}
		}
	}
	for i, k := range kfuncs {
		if k == "" || i > 0 && k <= kfuncs[i-1] {
			return &planError{at, fmt.Sprintf("%s: kfunc names must be non-empty, sorted and once each (%q)", at, k)}
		}
	}
	return nil
}

// checkClasses checks that k's kfunc classes have two or more members each, sorted, among the
// kfuncs k answered, and that no kfunc is in two.
func checkClasses(at string, k PlanKernel) *planError {
	seen := map[string]bool{}
	for _, c := range k.KfuncClasses {
		if len(c) < 2 {
			return &planError{at, fmt.Sprintf("%s: a kfunc class has %d members: two or more", at, len(c))}
		}
		for i, name := range c {
			_, answered := slices.BinarySearch(k.Kfuncs, name)
			switch {
			case i > 0 && name <= c[i-1]:
				return &planError{at, fmt.Sprintf("%s: a kfunc class must be sorted, each name once (%q)", at, name)}
			case seen[name]:
				return &planError{at, fmt.Sprintf("%s: kfunc %s is in two classes", at, name)}
			case !answered:
				return &planError{at, fmt.Sprintf("%s: kfunc class member %s is not among the release's kfuncs", at, name)}
			}
			seen[name] = true
		}
	}
	return nil
}

// checkHelperClasses checks that k's helper classes have two or more helpers each, sorted,
// among the helpers k answered, no helper in two, and their variants sorted names of
// "type/variant" form, at least one.
func checkHelperClasses(at string, k PlanKernel) *planError {
	seen := map[int]bool{}
	for _, c := range k.HelperClasses {
		if len(c.Helpers) < 2 || len(c.Variants) == 0 {
			return &planError{at, fmt.Sprintf("%s: a helper class has %d helpers and %d variants: two or more, and one or more", at, len(c.Helpers), len(c.Variants))}
		}
		if err := checkFuncs(at, c.Helpers, nil); err != nil {
			return err
		}
		for _, id := range c.Helpers {
			if _, answered := slices.BinarySearch(k.Helpers, id); !answered || seen[id] {
				return &planError{at, fmt.Sprintf("%s: helper %d of a class is not among the release's helpers, or in two classes", at, id)}
			}
			seen[id] = true
		}
		for i, v := range c.Variants {
			if typ, name, ok := strings.Cut(v, "/"); !ok || typ == "" || name == "" || i > 0 && v <= c.Variants[i-1] {
				return &planError{at, fmt.Sprintf("%s: helper class variants must be sorted type/variant names, each once (%q)", at, v)}
			}
		}
	}
	return nil
}

// lineAt is the 1-based line of data's byte off (the last line for an offset past the end or
// below zero: the error is then about the whole file).
func lineAt(data []byte, off int64) int {
	if off < 0 || off > int64(len(data)) {
		off = int64(len(data))
	}
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// planKeys are the keys each object of a plan file may have, by its path ("*" a map's member,
// "[]" an array's element); a path not listed is a map, whose keys are names.
var planKeys = map[string][]string{
	"$":                            {"kernels", "variants"},
	"$.kernels[]":                  {"release", "bases", "helpers", "kfuncs", "kfunc_classes", "helper_classes"},
	"$.kernels[].helper_classes[]": {"helpers", "variants"},
	"$.variants.*":                 {"releases", "kfunc_releases", "helpers", "kfuncs"},
}

// planMaps are the paths of the plan's maps: their keys are names, not fields.
var planMaps = map[string]bool{"$.variants": true, "$.kernels[].bases": true}

// checkKeys reports the first object key that is not exactly one of its object's fields
// (encoding/json matches field names case-insensitively), or that is repeated within its
// object (encoding/json keeps the last silently), and its line.
func checkKeys(data []byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		path    string
		object  bool
		keys    map[string]bool
		lastKey string
		key     bool // the next string token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return 0, nil
		}
		if err != nil {
			return lineAt(data, dec.InputOffset()), err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if k, isKey := tok.(string); isKey && top != nil && top.object && top.key {
			if top.keys[k] {
				return lineAt(data, dec.InputOffset()), fmt.Errorf("key %q twice", k)
			}
			if fields, ok := planKeys[top.path]; ok && !planMaps[top.path] && !slices.Contains(fields, k) {
				return lineAt(data, dec.InputOffset()), fmt.Errorf("unknown key %q", k)
			}
			top.keys[k], top.lastKey, top.key = true, k, false
			continue
		}
		if top != nil && top.object {
			top.key = true // a value read (or opened): a key follows
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			path := "$"
			switch {
			case top == nil:
			case !top.object:
				path = top.path + "[]"
			case planMaps[top.path]:
				path = top.path + ".*"
			default:
				path = top.path + "." + top.lastKey
			}
			stack = append(stack, &frame{path: path, object: tok == json.Delim('{'), keys: map[string]bool{}, key: true})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// planFor is what the plan says for one running kernel: nil when the plan was not learnt from
// its release.
type planFor struct {
	kernel   *PlanKernel
	variants map[string]PlanVariant
	// kfuncVariants are the variants whose kfuncs the plan speaks for on the release.
	kfuncVariants map[string]bool
	helpers       map[int]bool
	kfuncs        map[string]bool
	// sentinels maps each kfunc of a class to its class's first member.
	sentinels map[string]string
	// helperClasses maps each helper of a class to its class.
	helperClasses map[int]*PlanHelperClass
}

// forRelease returns the plan's part for release, nil when the plan does not know it.
func (p *Plan) forRelease(release string) *planFor {
	if p == nil {
		return nil
	}
	i := slices.IndexFunc(p.Kernels, func(k PlanKernel) bool { return k.Release == release })
	if i < 0 {
		return nil
	}
	pf := &planFor{kernel: &p.Kernels[i], variants: map[string]PlanVariant{}, kfuncVariants: map[string]bool{},
		helpers: map[int]bool{}, kfuncs: map[string]bool{}}
	for name, v := range p.Variants {
		if slices.Contains(v.Releases, release) {
			pf.variants[name] = v
			pf.kfuncVariants[name] = slices.Contains(v.KfuncReleases, release)
		}
	}
	for _, id := range pf.kernel.Helpers {
		pf.helpers[id] = true
	}
	for _, k := range pf.kernel.Kfuncs {
		pf.kfuncs[k] = true
	}
	pf.sentinels = map[string]string{}
	for _, c := range pf.kernel.KfuncClasses {
		for _, name := range c {
			pf.sentinels[name] = c[0]
		}
	}
	pf.helperClasses = map[int]*PlanHelperClass{}
	for i, c := range pf.kernel.HelperClasses {
		for _, id := range c.Helpers {
			pf.helperClasses[id] = &pf.kernel.HelperClasses[i]
		}
	}
	return pf
}

// helperSentinel returns the first helper of id's class when the class was refused for the
// type in variant (type/variant) and id is not that first helper itself.
func (pf *planFor) helperSentinel(id int, variant string) (int, bool) {
	if pf == nil {
		return 0, false
	}
	c := pf.helperClasses[id]
	if c == nil || c.Helpers[0] == id {
		return 0, false
	}
	_, refused := slices.BinarySearch(c.Variants, variant)
	return c.Helpers[0], refused
}

// sentinel returns the first kfunc of name's class, "" when name is in none (or the plan does
// not know the release).
func (pf *planFor) sentinel(name string) string {
	if pf == nil {
		return ""
	}
	return pf.sentinels[name]
}

// base returns the base variant name of progType, "" when the plan names none.
func (pf *planFor) base(progType string) string {
	if pf == nil {
		return ""
	}
	return pf.kernel.Bases[progType]
}

// copyHelper reports whether variant v's answer about helper id may be taken from its base.
func (pf *planFor) copyHelper(progType, variant string, id int) bool {
	if pf == nil || !pf.helpers[id] || variant == pf.base(progType) {
		return false
	}
	v, ok := pf.variants[progType+"/"+variant]
	_, asked := slices.BinarySearch(v.Helpers, id)
	return ok && !asked
}

// copyKfunc reports whether variant v's answer about kfunc name may be taken from its base.
func (pf *planFor) copyKfunc(progType, variant, name string) bool {
	if pf == nil || !pf.kfuncs[name] || variant == pf.base(progType) || !pf.kfuncVariants[progType+"/"+variant] {
		return false
	}
	v, ok := pf.variants[progType+"/"+variant]
	_, asked := slices.BinarySearch(v.Kfuncs, name)
	return ok && !asked
}

// errNoPlanKernels is LearnPlan's error for documents without a kernel release.
var errNoPlanKernels = errors.New("no observation with a kernel release to learn from")
