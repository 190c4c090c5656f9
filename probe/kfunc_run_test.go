package probe

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// helperResults returns the helpers' results among rs, without the kfunc pass's.
func helperResults(rs []observation.Result) []observation.Result {
	return slices.DeleteFunc(slices.Clone(rs), func(r observation.Result) bool { return r.Kfunc != "" })
}

// kfuncResults returns the kfunc pass's results among rs.
func kfuncResults(rs []observation.Result) []observation.Result {
	return slices.DeleteFunc(slices.Clone(rs), func(r observation.Result) bool { return r.Kfunc == "" })
}

// TestKfuncPassShape checks the kfunc results of a full host probe: after every helper result,
// at least one per (kfunc, program type), none unclassified, in variant order, and the facts'
// flags are the union of the results'.
func TestKfuncPassShape(t *testing.T) {
	rep := fullHostProbe(t)
	if len(rep.Kfuncs) == 0 {
		t.Skip("the running kernel has no kfuncs")
	}
	kf := kfuncResults(rep.Results)
	if n := len(helperResults(rep.Results)); !slices.EqualFunc(rep.Results[n:], kf, func(a, b observation.Result) bool { return a == b }) {
		t.Fatal("kfunc results are not all after the helpers' results")
	}
	perType := map[string]map[string]bool{}
	flags := map[string][]string{}
	for _, r := range kf {
		if r.HelperID != 0 || r.Helper != "" || r.Detail == "" || !r.Outcome.Valid() {
			t.Errorf("malformed kfunc result %+v", r)
		}
		if r.Outcome == observation.Unclassified {
			t.Errorf("UNCLASSIFIED %s/%s kfunc %s: %s\n%s", r.ProgType, r.Variant, r.Kfunc, r.Detail, r.Log)
		}
		if perType[r.Kfunc] == nil {
			perType[r.Kfunc] = map[string]bool{}
		}
		perType[r.Kfunc][r.ProgType] = true
		for _, f := range strings.Split(r.Flags, ",") {
			if f != "" && !slices.Contains(flags[r.Kfunc], f) {
				flags[r.Kfunc] = append(flags[r.Kfunc], f)
			}
		}
	}
	for _, k := range rep.Kfuncs {
		if k.Module != "" {
			continue
		}
		if got := len(perType[k.Name]); got != len(rep.ProgTypes) {
			t.Errorf("%s: results for %d program types, want %d", k.Name, got, len(rep.ProgTypes))
		}
		slices.Sort(flags[k.Name])
		if !slices.Equal(k.Flags, flags[k.Name]) {
			t.Errorf("%s: facts say flags %v, results %v", k.Name, k.Flags, flags[k.Name])
		}
	}
}

// TestKfuncKnownAnswers checks answers that follow from the kernel's source (6.18 and later)
// where the running kernel has the kfunc and loads the variant.
func TestKfuncKnownAnswers(t *testing.T) {
	rep := fullHostProbe(t)
	tests := []struct {
		kfunc, progType, variant string
		want                     observation.Outcome
		flag                     string
	}{
		{"bpf_task_acquire", "tracing", "tp_btf", observation.Supported, "trusted_args"},
		{"bpf_task_acquire", "socket_filter", "socket_filter", observation.NotForType, ""},
		{"bpf_rcu_read_lock", "socket_filter", "socket_filter", observation.Supported, ""},
		{"bpf_dynptr_from_xdp", "xdp", "xdp", observation.Supported, ""},
		{"bpf_dynptr_from_xdp", "sched_cls", "sched_cls", observation.NotForType, ""},
		{"bpf_copy_from_user_str", "tracing", "tp_btf", observation.SleepableOnly, "sleepable"},
		{"bpf_copy_from_user_str", "tracing", "iter.s", observation.Supported, ""},
		{"bpf_copy_from_user_str", "syscall", "syscall", observation.Supported, ""},
		{"bpf_sock_destroy", "tracing", "tp_btf", observation.NotForType, ""},
		{"bpf_sock_destroy", "tracing", "iter", observation.Supported, ""},
		// Refused unbound in every type; other types than XDP cannot be bound to a device.
		{"bpf_xdp_metadata_rx_hash", "xdp", "xdp", observation.DeviceBound, "device_bound"},
		{"bpf_xdp_metadata_rx_hash", "socket_filter", "socket_filter", observation.NotForType, "device_bound"},
		{"bpf_xdp_metadata_rx_timestamp", "sched_cls", "sched_cls", observation.NotForType, "device_bound"},
		{"bpf_cgroup_from_id", "tracing", "tp_btf", observation.Supported, "acquire"},
		{"tcp_reno_ssthresh", "struct_ops", "tcp_ca", observation.Supported, ""},
	}
	for _, tt := range tests {
		t.Run(tt.kfunc+"/"+tt.progType+"/"+tt.variant, func(t *testing.T) {
			if !slices.ContainsFunc(rep.Kfuncs, func(k observation.Kfunc) bool { return k.Name == tt.kfunc }) {
				t.Skipf("the running kernel has no kfunc %s", tt.kfunc)
			}
			if v := variantInfo(t, rep.Facts, tt.progType, tt.variant); !v.Usable {
				t.Skipf("this kernel does not load %s/%s programs: %s", tt.progType, tt.variant, v.Reason)
			}
			i := slices.IndexFunc(rep.Results, func(r observation.Result) bool {
				return r.Kfunc == tt.kfunc && r.ProgType == tt.progType && r.Variant == tt.variant
			})
			if i < 0 {
				t.Fatalf("no result")
			}
			r := rep.Results[i]
			if r.Outcome != tt.want || (tt.flag != "" && !slices.Contains(strings.Split(r.Flags, ","), tt.flag)) {
				t.Fatalf("%s (%s) flags %q, want %s with flag %q", r.Outcome, r.Detail, r.Flags, tt.want, tt.flag)
			}
		})
	}
}

// TestKfuncPlanAgreesWithEveryVariant loads every kfunc into every usable variant and checks the
// planned pass against it: each planned answer is the same, and every variant the plan did not
// load answers what the plan's reasoning says it would, the answer of the plain variant of its
// attach type (or the type's first plain one).
func TestKfuncPlanAgreesWithEveryVariant(t *testing.T) {
	rep := fullHostProbe(t)
	p, err := New(testRegistry(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.kfunc.everyVariant = true
	every := map[[3]string]observation.Result{}
	err = p.Run(context.Background(), func(r observation.Result) error {
		if r.Kfunc != "" {
			every[[3]string{r.Kfunc, r.ProgType, r.Variant}] = r
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	planned := map[[3]string]bool{}
	for _, r := range kfuncResults(rep.Results) {
		key := [3]string{r.Kfunc, r.ProgType, r.Variant}
		planned[key] = true
		if e, ok := every[key]; ok && (e.Outcome != r.Outcome || e.Detail != r.Detail) {
			t.Errorf("%s in %s/%s: planned %s (%s), every variant %s (%s)", r.Kfunc, r.ProgType, r.Variant, r.Outcome, r.Detail, e.Outcome, e.Detail)
		}
	}
	for _, g := range p.kfuncGroups() {
		for _, v := range g.all() {
			stand := g.plain[0]
			for _, pv := range g.plain {
				if pv.spec.attachType == v.spec.attachType && pv.spec.member == v.spec.member {
					stand = pv
				}
			}
			for _, k := range p.kfunc.list {
				key := [3]string{k.name, g.progType, v.spec.name}
				if planned[key] {
					continue
				}
				got, want := every[key], every[[3]string{k.name, g.progType, stand.spec.name}]
				if got.Outcome != want.Outcome {
					t.Errorf("%s in %s/%s: %s (%s), but the plan took it for %s's %s", k.name, g.progType, v.spec.name, got.Outcome, got.Detail, stand.spec.name, want.Outcome)
				}
			}
		}
	}
	t.Logf("planned: %d kfunc loads; every variant: %d", hostProbe.stats.KfuncLoads, p.Stats().KfuncLoads)
}

// TestKfuncOptions: a probe narrowed to some helpers asks about no kfunc unless named, and a
// named kfunc is asked alone.
func TestKfuncOptions(t *testing.T) {
	requireRoot(t)
	reg := testRegistry(t)
	count := func(opts Options) (int, []string) {
		p, err := New(reg, opts)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		n := 0
		err = p.Run(context.Background(), func(r observation.Result) error {
			if r.Kfunc != "" {
				n++
				if !slices.Contains(names, r.Kfunc) {
					names = append(names, r.Kfunc)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Facts().Kfuncs) == 0 {
			t.Skip("the running kernel has no kfuncs")
		}
		return n, names
	}
	if n, _ := count(Options{ProgTypes: []string{"xdp"}, Helpers: []int{5}}); n != 0 {
		t.Errorf("%d kfunc results for a probe of helper 5", n)
	}
	n, names := count(Options{ProgTypes: []string{"xdp", "tracing/tp_btf"}, Helpers: []int{5}, Kfuncs: []string{"bpf_rcu_read_lock"}})
	if n != 2 || !slices.Equal(names, []string{"bpf_rcu_read_lock"}) {
		t.Errorf("%d results for %v, want 2 for bpf_rcu_read_lock", n, names)
	}
}
