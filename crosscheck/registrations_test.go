package crosscheck

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/kernelsrc"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// The files these checks read: the observations recorded for cmd/bpfmatrix's tests, the 6.12
// source extract that internal/kernelsrc's generator writes, and the made-up extract that
// internal/kernelsrc's own tests read, so that both sides test one fixture.
var (
	recorded         = filepath.Join("..", "cmd", "bpfmatrix", "testdata", "observations")
	registrations612 = filepath.Join("..", "internal", "kernelsrc", "testdata", "registrations-6.12.txt")
	tinyExtract      = filepath.Join("..", "internal", "kernelsrc", "testdata", "tiny.txt")
)

// minCompared is how many kfuncs the comparison must reach for the check to mean something
// (issue 12 asks for at least 20).
const minCompared = 20

// understood are the kfuncs whose matrix answers disagree with the 6.12 registrations for a
// reason read in the source, with that reason. Each entry must still disagree: one that
// agrees again is stale and fails the test.
var understood = map[string]string{
	// The verifier refuses the XDP metadata kfuncs to any program not bound to a device before
	// it looks at the type's kfunc sets (add_kfunc_call -> bpf_dev_bound_kfunc_check), so the
	// probe loads those pairs again bound to lo (probe/kfunc_device.go): XDP agrees with
	// net/core/xdp.c's XDP-only registration, and every other type is refused the binding. An
	// ext program takes its XDP target's sets (resolve_prog_type), so the source offers it the
	// kfuncs, but the kernel will not bind an ext program to a device (bpf_prog_dev_bound_init
	// takes XDP and sched_cls only) and cannot call them: the matrix says not offered.
	"bpf_xdp_metadata_rx_hash":      "an ext program cannot be bound to a device, which these kfuncs need",
	"bpf_xdp_metadata_rx_timestamp": "an ext program cannot be bound to a device, which these kfuncs need",
	"bpf_xdp_metadata_rx_vlan_tag":  "an ext program cannot be bound to a device, which these kfuncs need",
}

// TestMatrixAgreesWithRegistrations compares, for every vmlinux kfunc of the recorded 6.12
// observation that the 6.12 source extract knows, the program types the probes found the
// kfunc offered to with those its registrations give it, over the program types the guest
// could answer for. The matrix and the source are independent: one loads programs, the other
// reads the kernel's own tables.
func TestMatrixAgreesWithRegistrations(t *testing.T) {
	src := readExtract(t, registrations612)
	doc, err := observation.ReadFile(filepath.Join(recorded, "6.12.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if !doc.OK() {
		t.Fatalf("the 6.12 observation is of a failed guest: %s", doc.Guest.Error)
	}
	// The same series is required; a different patch level is worth knowing when a
	// disagreement shows up (a stable update may move a kfunc), so it is logged.
	if series(doc.Kernel.Version) != series(src.Kernel) {
		t.Fatalf("observation of %s, source of %s", doc.Kernel.Version, src.Kernel)
	}
	t.Logf("source: %s %s (Linux %s); observation: %s (%s)", src.Package, src.DebianVersion, src.Kernel, doc.Kernel.Release, doc.Guest.DebianVersion)

	c := compareMatrix(src, doc)
	excused := 0
	for _, d := range c.disagreements {
		if why, ok := understood[d.kfunc]; ok {
			excused++
			t.Logf("%s disagrees, understood: %s (only in the source: %v; only in the matrix: %v)", d.kfunc, why, d.sourceOnly, d.matrixOnly)
			continue
		}
		t.Errorf("%s: only in the source: %v; only in the matrix: %v", d.kfunc, d.sourceOnly, d.matrixOnly)
	}
	for k := range understood {
		if !slices.ContainsFunc(c.disagreements, func(d disagreement) bool { return d.kfunc == k }) {
			t.Errorf("%s is listed as an understood disagreement but does not disagree (any more): drop it from the list", k)
		}
	}
	t.Logf("%d vmlinux kfuncs observed: %d compared (%d program-type answers: %d offered, %d refused), %d agreed, %d disagreed for understood reasons",
		c.observed, c.compared, c.offered+c.refused, c.offered, c.refused, c.agreed, excused)
	t.Logf("%d filtered, compared only outside their registrations: %s", len(c.filtered), strings.Join(c.filtered, " "))
	if len(c.unknown) > 0 {
		t.Logf("%d unknown to the source: %s", len(c.unknown), strings.Join(c.unknown, " "))
	}
	if len(c.undecided) > 0 {
		t.Logf("guards the guest's config could not decide (counted as holding): %v", c.undecided)
	}
	if c.compared-excused < minCompared {
		t.Errorf("only %d kfuncs compared (without the understood disagreements), want at least %d", c.compared-excused, minCompared)
	}
}

// readExtract reads the extract at path, failing t on any error.
func readExtract(t *testing.T, path string) *kernelsrc.Source {
	t.Helper()
	data, err := os.ReadFile(path)
	var src *kernelsrc.Source
	if err == nil {
		src, err = kernelsrc.ReadExtract(path, bytes.NewReader(data))
	}
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func series(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// comparison is the outcome of compareMatrix.
type comparison struct {
	observed, compared, agreed int
	offered, refused           int // program-type answers compared, by the matrix's answer
	filtered, unknown          []string
	undecided                  []kernelsrc.Guard
	disagreements              []disagreement
}

type disagreement struct {
	kfunc                  string
	sourceOnly, matrixOnly []string
}

// extTarget reads the program type of an ext variant's target from its description,
// "probe_target (XDP program)": an extension program is judged as its target's type
// (resolve_prog_type), so it is compared with that type's registrations.
var extTarget = regexp.MustCompile(`\(([A-Z_]+) program\)`)

// compareMatrix compares the observation's vmlinux kfuncs with src's registrations. A program
// type takes part when the guest answered for it: offered if some variant's outcome offers
// the kfunc, refused if none does and some says not_for_type; types whose answers are all
// inconclusive (or of another kind) are left out, as the registry's proposals leave them out.
//
// A kfunc of a set with a filter callback is listed as filtered and not counted as compared:
// its registered types depend on the program. It is still checked where the filter has no
// say: a filter can only take a kfunc away, so the matrix must not find it offered to a type
// its registrations do not reach.
func compareMatrix(src *kernelsrc.Source, doc *observation.Document) comparison {
	config := guestConfig(doc)
	asType := judgedAs(doc)
	answers := matrixAnswers(doc)
	var c comparison
	for _, k := range doc.Kfuncs {
		if k.Module != "" {
			continue
		}
		c.observed++
		acc, ok := src.Lookup(k.Name, config)
		for _, g := range acc.Undecided {
			if !slices.Contains(c.undecided, g) {
				c.undecided = append(c.undecided, g)
			}
		}
		if !ok {
			c.unknown = append(c.unknown, k.Name)
			continue
		}
		d := disagreement{kfunc: k.Name}
		var offered, refused int
		for typ, answer := range answers[k.Name] {
			judge, present := asType[typ]
			if !present || answer == 0 {
				continue
			}
			inSource := acc.Allows(judge)
			if acc.Filtered() && inSource {
				continue
			}
			if answer > 0 {
				offered++
			} else {
				refused++
			}
			switch {
			case inSource && answer < 0:
				d.sourceOnly = append(d.sourceOnly, typ)
			case !inSource && answer > 0:
				d.matrixOnly = append(d.matrixOnly, typ)
			}
		}
		slices.Sort(d.sourceOnly)
		slices.Sort(d.matrixOnly)
		agrees := len(d.sourceOnly) == 0 && len(d.matrixOnly) == 0
		switch {
		case !agrees:
			c.disagreements = append(c.disagreements, d)
		case acc.Filtered():
			c.filtered = append(c.filtered, k.Name)
			continue
		}
		if offered+refused == 0 {
			continue
		}
		c.compared++
		c.offered += offered
		c.refused += refused
		if agrees {
			c.agreed++
		}
	}
	slices.SortFunc(c.disagreements, func(a, b disagreement) int { return strings.Compare(a.kfunc, b.kfunc) })
	return c
}

// judgedAs maps each program type the guest has to the type whose registrations judge it:
// itself, and for ext the type of its target program.
func judgedAs(doc *observation.Document) map[string]string {
	asType := map[string]string{}
	for _, p := range doc.ProgTypes {
		if !p.Present {
			continue
		}
		if p.Name != "ext" {
			asType[p.Name] = p.Name
			continue
		}
		for _, v := range p.Variants {
			if m := extTarget.FindStringSubmatch(v.Target); m != nil {
				asType["ext"] = kernelsrc.ProgTypeName(m[1])
			}
		}
	}
	return asType
}

// matrixAnswers sums up each kfunc's results per program type: 1 when some variant's outcome
// offers it, -1 when none does and some says not_for_type, 0 (absent) otherwise.
func matrixAnswers(doc *observation.Document) map[string]map[string]int {
	answers := map[string]map[string]int{}
	for _, r := range doc.Results {
		if r.Kfunc == "" {
			continue
		}
		if answers[r.Kfunc] == nil {
			answers[r.Kfunc] = map[string]int{}
		}
		switch {
		case r.Outcome.Offered():
			answers[r.Kfunc][r.ProgType] = 1
		case r.Outcome == observation.NotForType && answers[r.Kfunc][r.ProgType] == 0:
			answers[r.Kfunc][r.ProgType] = -1
		}
	}
	return answers
}

// guestConfig is the guest's kernel config as a kernelsrc.Config, nil when the observation has none.
// The guest block lists the options set without telling =y from =m; the guards read around
// kfunc sets are on options that cannot be modules (CONFIG_CGROUPS, CONFIG_KEYS).
func guestConfig(doc *observation.Document) kernelsrc.Config {
	if doc.Guest == nil || len(doc.Guest.KernelConfig) == 0 {
		return nil
	}
	set := map[string]bool{}
	for _, o := range doc.Guest.KernelConfig {
		set[o] = true
	}
	return func(o string) string {
		if set[o] {
			return "y"
		}
		return ""
	}
}

// TestComparisonCatchesEdits edits the 6.12 extract the ways a wrong reading of the source
// would go wrong, and checks that the comparison with the recorded observation then names
// the kfuncs concerned: the agreement above is not the comparison failing to look.
func TestComparisonCatchesEdits(t *testing.T) {
	doc, err := observation.ReadFile(filepath.Join(recorded, "6.12.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		edit  func(*kernelsrc.Source)
		kfunc string // a kfunc that must then disagree
	}{
		{"hooks not shared: lsm apart from tracing", func(s *kernelsrc.Source) {
			for i := range s.Hooks {
				if s.Hooks[i].ProgType == "BPF_PROG_TYPE_LSM" {
					s.Hooks[i].Hook = "BTF_KFUNC_HOOK_LSM_APART"
				}
			}
		}, "bpf_task_acquire"},
		{"common set registered for tracing only", func(s *kernelsrc.Source) {
			for i := range s.Registrations {
				if s.Registrations[i].ProgType == kernelsrc.CommonType && s.Registrations[i].File == "kernel/bpf/helpers.c" {
					s.Registrations[i].ProgType = "BPF_PROG_TYPE_TRACING"
				}
			}
		}, "bpf_rcu_read_lock"},
		{"a registration dropped", func(s *kernelsrc.Source) {
			s.Registrations = slices.DeleteFunc(s.Registrations, func(r kernelsrc.Registration) bool {
				return r.ProgType == "BPF_PROG_TYPE_CGROUP_SKB" && r.IDSet == "generic_kfunc_set"
			})
		}, "bpf_task_acquire"},
		{"a registration added", func(s *kernelsrc.Source) {
			s.Registrations = append(s.Registrations, kernelsrc.Registration{ProgType: "BPF_PROG_TYPE_KPROBE", IDSet: "cpumask_kfunc_set", File: "kernel/bpf/cpumask.c", Line: 1})
		}, "bpf_cpumask_create"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := readExtract(t, registrations612)
			tt.edit(src)
			c := compareMatrix(src, doc)
			if !slices.ContainsFunc(c.disagreements, func(d disagreement) bool { return d.kfunc == tt.kfunc }) {
				t.Errorf("%s does not disagree after the edit (%d disagreements)", tt.kfunc, len(c.disagreements))
			}
		})
	}
}

// TestCompareMatrix checks the rules of the comparison on a made-up observation: which
// answers count, how ext is judged, and what a filter leaves to compare.
func TestCompareMatrix(t *testing.T) {
	src := readExtract(t, tinyExtract)
	src.Sets[2].Kfuncs = src.Sets[2].Kfuncs[:1] // k_gen out of the filtered set
	present := func(name string, variants ...observation.VariantInfo) observation.ProgTypeInfo {
		return observation.ProgTypeInfo{Name: name, Present: true, Variants: variants}
	}
	doc := &observation.Document{
		Facts: observation.Facts{
			Kfuncs: []observation.Kfunc{{Name: "k_gen"}, {Name: "k_all"}, {Name: "k_fs"}, {Name: "k_none"}, {Name: "k_mod", Module: "m"}},
			ProgTypes: []observation.ProgTypeInfo{
				present("xdp"), present("tracing"), present("lsm"), present("cgroup_sock"), present("sk_lookup"),
				present("ext", observation.VariantInfo{Name: "ext", Target: "probe_target (XDP program)"}),
				{Name: "lirc_mode2", Present: false},
			},
		},
	}
	add := func(kfunc, typ string, o observation.Outcome) {
		doc.Results = append(doc.Results, observation.Result{Kfunc: kfunc, ProgType: typ, Variant: typ, Outcome: o})
	}
	// k_gen: offered where registered, refused on sk_lookup, one inconclusive type left out,
	// ext judged as xdp, and an offer on an absent type ignored.
	for _, typ := range []string{"xdp", "tracing", "lsm", "cgroup_sock", "ext"} {
		add("k_gen", typ, observation.Supported)
	}
	add("k_gen", "sk_lookup", observation.NotForType)
	add("k_gen", "lirc_mode2", observation.Supported)
	// k_all: common, but the matrix finds it refused on sk_lookup.
	add("k_all", "xdp", observation.Supported)
	add("k_all", "sk_lookup", observation.NotForType)
	add("k_all", "tracing", observation.Inconclusive)
	// k_fs: filtered; refused on lsm is the filter's business, offered on xdp is not.
	add("k_fs", "lsm", observation.NotForType)
	add("k_fs", "xdp", observation.SleepableOnly)
	add("k_none", "xdp", observation.Supported)

	c := compareMatrix(src, doc)
	want := []disagreement{
		{kfunc: "k_all", sourceOnly: []string{"sk_lookup"}},
		{kfunc: "k_fs", matrixOnly: []string{"xdp"}},
	}
	if !reflect.DeepEqual(c.disagreements, want) {
		t.Errorf("disagreements %+v, want %+v", c.disagreements, want)
	}
	if c.observed != 4 || c.compared != 3 || c.agreed != 1 || !slices.Equal(c.unknown, []string{"k_none"}) || len(c.filtered) != 0 {
		t.Errorf("counts: %+v", c)
	}
	// k_gen: 5 offered + 1 refused; k_all: 1 offered + 1 refused; k_fs: 1 offered outside.
	if c.offered != 7 || c.refused != 2 {
		t.Errorf("answers compared: %d offered, %d refused", c.offered, c.refused)
	}

	// Without the stray offer, k_fs is filtered and agrees where it can be compared.
	doc.Results = slices.DeleteFunc(doc.Results, func(r observation.Result) bool { return r.Kfunc == "k_fs" && r.ProgType == "xdp" })
	c = compareMatrix(src, doc)
	if !slices.Equal(c.filtered, []string{"k_fs"}) {
		t.Errorf("filtered %v", c.filtered)
	}
}
