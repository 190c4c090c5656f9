package probe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/kconfig"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

func testRegistry(t testing.TB) *registry.Registry {
	t.Helper()
	return testenv.Must(registry.Load("testdata/registry.yaml"))(t)
}

func requireRoot(t testing.TB) {
	t.Helper()
	testenv.NeedRoot(t)
}

// hostProbe is one full probe of the running kernel, shared by the tests that only read it.
var hostProbe struct {
	once   sync.Once
	report *observation.Document
	stats  Stats
	err    error
}

func fullHostProbe(t *testing.T) *observation.Document {
	t.Helper()
	requireRoot(t)
	hostProbe.once.Do(func() {
		p, err := New(testRegistry(t), Options{})
		if err != nil {
			hostProbe.err = err
			return
		}
		rep := &observation.Document{Facts: p.Facts()}
		hostProbe.err = p.Run(context.Background(), func(r observation.Result) error {
			rep.Results = append(rep.Results, r)
			return nil
		})
		// The facts as the agent sends them after the run: with what each pass and variant cost.
		rep.Facts = p.Facts()
		hostProbe.report, hostProbe.stats = rep, p.Stats()
	})
	if hostProbe.err != nil {
		t.Fatal(hostProbe.err)
	}
	return hostProbe.report
}

// variantInfo finds a variant's facts in a report.
func variantInfo(t *testing.T, f observation.Facts, progType, variant string) observation.VariantInfo {
	t.Helper()
	for _, pt := range f.ProgTypes {
		if pt.Name != progType {
			continue
		}
		for _, v := range pt.Variants {
			if v.Name == variant {
				return v
			}
		}
	}
	t.Fatalf("no facts for %s/%s", progType, variant)
	return observation.VariantInfo{}
}

func find(rep *observation.Document, progType, variant string, id int) (observation.Result, bool) {
	for _, r := range rep.Results {
		if r.ProgType == progType && r.Variant == variant && r.HelperID == id {
			return r, true
		}
	}
	return observation.Result{}, false
}

// TestKnownAnswers checks answers that follow from the kernel's source on every kernel the probe
// targets (5.10 and later), loading real programs into the running kernel. A variant the running
// kernel cannot load makes its cases skip with the kernel's reason.
func TestKnownAnswers(t *testing.T) {
	rep := fullHostProbe(t)
	maxID := 0
	for _, id := range rep.BTFHelperIDs {
		maxID = max(maxID, id+1)
	}
	if maxID == 0 {
		t.Fatal("no helper ids in the kernel's BTF")
	}
	offered := []observation.Outcome{observation.Supported, observation.GPLOnly}
	tests := []struct {
		name              string
		progType, variant string
		id                int
		want              []observation.Outcome
	}{
		{"probe_read not offered to socket_filter", "socket_filter", "socket_filter", 4, []observation.Outcome{observation.NotForType}},
		{"probe_read offered to kprobe", "kprobe", "kprobe", 4, offered},
		{"probe_read is GPL-only in kprobe", "kprobe", "kprobe", 4, []observation.Outcome{observation.GPLOnly}},
		{"trace_printk is GPL-only in kprobe", "kprobe", "kprobe", 6, []observation.Outcome{observation.GPLOnly}},
		{"ktime_get_ns for everyone", "socket_filter", "socket_filter", 5, []observation.Outcome{observation.Supported}},
		{"one past the last id is unknown", "socket_filter", "socket_filter", maxID, []observation.Outcome{observation.UnknownID}},
		{"one past the last id is unknown in tp_btf too", "tracing", "tp_btf", maxID, []observation.Outcome{observation.UnknownID}},
		{"d_path refused for a tracepoint target", "tracing", "tp_btf", 147, []observation.Outcome{observation.NotForTarget}},
		{"copy_from_user needs a sleepable tp_btf", "tracing", "tp_btf", 148, []observation.Outcome{observation.SleepableOnly}},
		{"copy_from_user needs a sleepable iter", "tracing", "iter", 148, []observation.Outcome{observation.SleepableOnly}},
		{"copy_from_user in a sleepable iter", "tracing", "iter.s", 148, []observation.Outcome{observation.Supported}},
		{"copy_from_user in a syscall program", "syscall", "syscall", 148, []observation.Outcome{observation.Supported}},
		{"ktime_get_ns in fentry", "tracing", "fentry", 5, []observation.Outcome{observation.Supported}},
		{"ktime_get_ns in lsm (GPL programs only)", "lsm", "lsm", 5, []observation.Outcome{observation.Supported}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := variantInfo(t, rep.Facts, tt.progType, tt.variant); !v.Usable {
				t.Skipf("this kernel does not load %s/%s programs: %s", tt.progType, tt.variant, v.Reason)
			}
			r, ok := find(rep, tt.progType, tt.variant, tt.id)
			if !ok {
				t.Fatalf("no result for %s/%s id %d", tt.progType, tt.variant, tt.id)
			}
			if !slices.Contains(tt.want, r.Outcome) {
				t.Fatalf("%s/%s id %d: %s (%s), want one of %v", tt.progType, tt.variant, tt.id, r.Outcome, r.Detail, tt.want)
			}
		})
	}
}

// TestHostProbeCoverage checks the shape of a full probe: every fixed variant is in the facts
// (the discovered ones where this kernel has them, the struct_ops ones in place of the
// placeholder), every (variant, id) pair of a variant asked every helper has exactly one
// result, in order, a variant of a narrower scope has at most one per id, and no log went
// unclassified.
func TestHostProbeCoverage(t *testing.T) {
	rep := fullHostProbe(t)
	maxID := rep.BTFHelperIDs[len(rep.BTFHelperIDs)-1] + 1
	lastID := max(211, maxID)

	var variants, fixed, full []string
	for _, pt := range rep.ProgTypes {
		for _, v := range pt.Variants {
			name := pt.Name + "/" + v.Name
			variants = append(variants, name)
			if pt.Name != "struct_ops" {
				fixed = append(fixed, name)
			}
			if helperScope(pt.Name, v) == scopeAll {
				full = append(full, name)
			}
		}
	}
	var want []string
	for _, s := range variantSpecs {
		name := s.progType + "/" + s.name
		if s.progType != "struct_ops" && (!s.discovered || slices.Contains(fixed, name)) {
			want = append(want, name)
		}
	}
	if !slices.Equal(fixed, want) {
		t.Errorf("facts list variants\n%v\nwant\n%v", fixed, want)
	}
	byVariant := map[string][]observation.Result{}
	for _, r := range helperResults(rep.Results) {
		byVariant[r.ProgType+"/"+r.Variant] = append(byVariant[r.ProgType+"/"+r.Variant], r)
	}
	for _, name := range variants {
		results := byVariant[name]
		if slices.Contains(full, name) && len(results) != lastID {
			t.Errorf("%s: %d results, want one per id 1..%d", name, len(results), lastID)
		}
		for i, r := range results {
			if i > 0 && r.HelperID <= results[i-1].HelperID {
				t.Fatalf("%s: id %d after id %d", name, r.HelperID, results[i-1].HelperID)
			}
			checkResult(t, r)
		}
	}
}

// helperScope is the helper scope of the variant v of progType, as its spec gives it.
func helperScope(progType string, v observation.VariantInfo) scope {
	if progType == "struct_ops" {
		if v.Sleepable || strings.Contains(strings.TrimPrefix(v.Section, "struct_ops/"), ".") {
			return scopeMember // or scopeSleepable: either asks some helpers only
		}
		return scopeAll
	}
	s, _ := specNamed(v.Name)
	return s.helpers
}

// checkResult checks what every result must hold: an outcome word, a detail, no unclassified log.
func checkResult(t *testing.T, r observation.Result) {
	t.Helper()
	if !slices.Contains(observation.Outcomes, r.Outcome) {
		t.Errorf("%s/%s id %d: outcome %q is not an outcome word", r.ProgType, r.Variant, r.HelperID, r.Outcome)
	}
	if r.Outcome == observation.Unclassified {
		t.Errorf("UNCLASSIFIED %s/%s id %d: %s\n%s", r.ProgType, r.Variant, r.HelperID, r.Detail, r.Log)
	}
	if r.Detail == "" {
		t.Errorf("%s/%s id %d: %s without detail", r.ProgType, r.Variant, r.HelperID, r.Outcome)
	}
}

// TestUsableVariantsAnswer checks that the variants the issue names give real answers where the
// kernel loads them, and that variants it refuses say why in every row, without further loads.
func TestUsableVariantsAnswer(t *testing.T) {
	rep := fullHostProbe(t)
	supported := map[string]int{}
	for _, r := range rep.Results {
		if r.Outcome == observation.Supported || r.Outcome == observation.GPLOnly {
			supported[r.ProgType+"/"+r.Variant]++
		}
	}
	for _, pt := range rep.ProgTypes {
		for _, v := range pt.Variants {
			name := pt.Name + "/" + v.Name
			t.Run(name, func(t *testing.T) {
				if !v.Usable {
					if v.Reason == "" {
						t.Fatal("unusable variant without a reason")
					}
					for _, r := range rep.Results {
						if r.ProgType == pt.Name && r.Variant == v.Name && (r.Outcome != observation.Inconclusive || r.Detail != v.Reason) {
							t.Fatalf("id %d: %s (%s), want inconclusive with the variant's reason %q", r.HelperID, r.Outcome, r.Detail, v.Reason)
						}
					}
					t.Skipf("this kernel does not load %s programs: %s", name, v.Reason)
				}
				if supported[name] == 0 && helperScope(pt.Name, v) == scopeAll {
					t.Fatalf("%s loads but offers no helper", name)
				}
			})
		}
	}
}

// TestBTFAgreesWithVerifier cross-checks two independent records of which helper ids exist: the
// kernel's BTF enum and the verifier's answers.
func TestBTFAgreesWithVerifier(t *testing.T) {
	rep := fullHostProbe(t)
	inBTF := map[int]bool{}
	for _, id := range rep.BTFHelperIDs {
		inBTF[id] = true
	}
	for _, r := range helperResults(rep.Results) {
		if r.Outcome == observation.Inconclusive {
			continue
		}
		if inBTF[r.HelperID] == (r.Outcome == observation.UnknownID) {
			t.Errorf("%s/%s id %d: %s (%s), but the id is in BTF: %v", r.ProgType, r.Variant, r.HelperID, r.Outcome, r.Detail, inBTF[r.HelperID])
		}
	}
}

// TestMinimalLoadsEqualEveryPair checks that the load-saving strategy gives the answers of
// loading every pair with GPL and then, where supported, without: sentinel ids, skipped
// variants, non-GPL first. Details must match too, except for refusals before verification,
// which the saving strategy words per variant.
func TestMinimalLoadsEqualEveryPair(t *testing.T) {
	rep := fullHostProbe(t)
	p, err := New(testRegistry(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.strategy = everyPair
	i := 0
	err = p.Run(context.Background(), func(r observation.Result) error {
		m := rep.Results[i]
		i++
		if m.HelperID != r.HelperID || m.Variant != r.Variant || m.ProgType != r.ProgType {
			return fmt.Errorf("result %d: %s/%s id %d, want %s/%s id %d", i, r.ProgType, r.Variant, r.HelperID, m.ProgType, m.Variant, m.HelperID)
		}
		if m.Outcome != r.Outcome || (r.Outcome != observation.Inconclusive && m.Detail != r.Detail) {
			t.Errorf("%s/%s id %d: minimal %s (%s), every pair %s (%s)", r.ProgType, r.Variant, r.HelperID, m.Outcome, m.Detail, r.Outcome, r.Detail)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	every := p.Stats()
	t.Logf("minimal: %d loads; every pair: %d loads", hostProbe.stats.Loads, every.Loads)
	if hostProbe.stats.Loads >= every.Loads {
		t.Errorf("the minimal strategy took %d loads, every pair %d", hostProbe.stats.Loads, every.Loads)
	}
}

func TestOptions(t *testing.T) {
	requireRoot(t)
	reg := testRegistry(t)
	tests := []struct {
		name    string
		opts    Options
		wantErr error
		want    []string // variants probed
	}{
		{name: "unknown type", opts: Options{ProgTypes: []string{"kprobes"}}, wantErr: registry.ErrUnknownProgType},
		{name: "unknown variant", opts: Options{ProgTypes: []string{"tracing/fentri"}}, wantErr: ErrUnknownVariant},
		{name: "bad id", opts: Options{Helpers: []int{0}}, wantErr: registry.ErrUnknownHelper},
		{name: "one type", opts: Options{ProgTypes: []string{"cgroup_sockopt"}}, want: []string{"cgroup_sockopt/getsockopt", "cgroup_sockopt/setsockopt"}},
		{name: "one variant", opts: Options{ProgTypes: []string{"tracing/iter.s", "xdp"}}, want: []string{"xdp/xdp", "tracing/iter.s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Helpers = append(tt.opts.Helpers, 5)
			rep, err := Probe(context.Background(), reg, tt.opts)
			if testenv.WantErrIs(t, err, tt.wantErr) {
				return
			}
			var got []string
			for _, r := range rep.Results {
				if r.HelperID != 5 || r.Helper != "ktime_get_ns" {
					t.Errorf("result for id %d (%q), want only ktime_get_ns", r.HelperID, r.Helper)
				}
				got = append(got, r.ProgType+"/"+r.Variant)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("probed %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRunStops(t *testing.T) {
	requireRoot(t)
	p, err := New(testRegistry(t), Options{ProgTypes: []string{"kprobe", "xdp"}})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("enough")
	n := 0
	err = p.Run(context.Background(), func(observation.Result) error {
		if n++; n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Fatalf("emit error: Run returned %v after %d results, want %v after 10", err, n, stop)
	}

	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = p.Run(ctx, func(observation.Result) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: Run returned %v after %d results, want context.Canceled", err, n)
	}
}

// TestSmallLogBufferGrows starts with a log buffer too small for any verifier log: every load
// that fails with ENOSPC must be repeated with a bigger one and give the same answers.
func TestSmallLogBufferGrows(t *testing.T) {
	requireRoot(t)
	reg := testRegistry(t)
	opts := Options{ProgTypes: []string{"kprobe", "tracing/tp_btf", "socket_filter"}, Helpers: []int{1, 4, 5, 147, 148, 212}}
	collect := func(logSize int) ([]observation.Result, Stats) {
		p, err := newProber(reg, opts, logSize)
		if err != nil {
			t.Fatal(err)
		}
		var out []observation.Result
		if err := p.Run(context.Background(), func(r observation.Result) error { out = append(out, r); return nil }); err != nil {
			t.Fatal(err)
		}
		return out, p.Stats()
	}
	want, _ := collect(defaultLogSize)
	got, stats := collect(16)
	if stats.LogRetries == 0 {
		t.Fatal("no load was repeated for a 16-byte log buffer")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("answers with a 16-byte first buffer differ:\n%v\nwant\n%v", got, want)
	}
}

// TestWithoutRegistry probes the way the guest agent does, with no helper table: the ids must
// run to the kernel's last plus one and the names must be the kernel's own, which for every id
// both know equal the registry's.
func TestWithoutRegistry(t *testing.T) {
	requireRoot(t)
	reg, err := registry.Default()
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(nil, Options{ProgTypes: []string{"socket_filter"}})
	if err != nil {
		t.Fatal(err)
	}
	facts := p.Facts()
	if len(facts.BTFHelperIDs) == 0 {
		t.Skip("the running kernel has no BTF; without BTF the prober needs a registry")
	}
	last := facts.BTFHelperIDs[len(facts.BTFHelperIDs)-1]
	var got []observation.Result
	if err := p.Run(context.Background(), func(r observation.Result) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	got = helperResults(got)
	if len(got) != last+1 {
		t.Fatalf("%d results, want ids 1..%d", len(got), last+1)
	}
	for _, r := range got {
		h, ok := reg.ByID(r.HelperID)
		switch {
		case r.HelperID == last+1 && r.Helper != "":
			t.Errorf("id %d past the kernel's last is named %q", r.HelperID, r.Helper)
		case ok && r.HelperID <= last && r.Helper != h.Name:
			t.Errorf("id %d: kernel BTF names it %q, the registry %q", r.HelperID, r.Helper, h.Name)
		}
	}
}

// TestMissingConfig: an unusable variant names the build options its kernel lacks, and only
// when the kernel's configuration is known.
func TestMissingConfig(t *testing.T) {
	var lsm, sleepable *variantSpec
	for i := range variantSpecs {
		switch s := &variantSpecs[i]; s.progType + "/" + s.name {
		case "lsm/lsm":
			lsm = s
		case "tracing/fentry.s":
			sleepable = s
		}
	}
	cfg := kconfig.Config{"CONFIG_BPF_LSM": "y", "CONFIG_FUNCTION_ERROR_INJECTION": "n"}
	tests := []struct {
		config kconfig.Config
		spec   *variantSpec
		want   string
	}{
		{cfg, lsm, ""},
		{cfg, sleepable, "; this kernel is built without CONFIG_FUNCTION_ERROR_INJECTION"},
		{kconfig.Config{}, lsm, "; this kernel is built without CONFIG_BPF_LSM"},
		{nil, lsm, ""},
	}
	for _, tt := range tests {
		p := &Prober{opts: Options{KernelConfig: tt.config}}
		if got := p.missingConfig(tt.spec); got != tt.want {
			t.Errorf("%s/%s with %v: %q, want %q", tt.spec.progType, tt.spec.name, tt.config, got, tt.want)
		}
	}
}

// TestHostVariantCosts: every load of a run is counted in the variant it probes, so the
// variants' loads add up to the run's (what New spent finding targets aside), and a variant that
// was asked anything spent time in the kernel.
func TestHostVariantCosts(t *testing.T) {
	rep := fullHostProbe(t)
	sum, asked := 0, map[string]bool{}
	for _, r := range rep.Results {
		asked[r.ProgType+"/"+r.Variant] = true
	}
	for _, pt := range rep.Facts.ProgTypes {
		for _, v := range pt.Variants {
			sum += v.Loads
			if asked[pt.Name+"/"+v.Name] && v.Usable && (v.Loads == 0 || v.Seconds <= 0) {
				t.Errorf("%s/%s answered results but records %d loads in %.6fs", pt.Name, v.Name, v.Loads, v.Seconds)
			}
		}
	}
	want := hostProbe.stats.Loads - hostProbe.stats.BaselineLoads
	t.Logf("%d loads in the variants", sum)
	if sum != want {
		t.Errorf("variants count %d loads, the run made %d (besides %d baseline loads)", sum, want, hostProbe.stats.BaselineLoads)
	}
}
