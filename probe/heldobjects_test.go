package probe

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// heldVariants are the program types the held-object tests load into.
var heldVariants = []string{"socket_filter", "kprobe", "sched_cls", "tracepoint", "raw_tracepoint", "syscall"}

// TestHeldObjectsOnHost loads, for each object and program type, the program that references a
// map holding the object, and compares with the kernel source's check_map_prog_compatibility
// (6.18, the host): kprobe, tracepoint, perf_event and raw_tracepoint are "tracing progs", which
// may hold no list or rbtree root ("tracing progs cannot use bpf_{list_head,rb_root} yet") and no
// spin lock of either kind ("tracing progs cannot use bpf_spin_lock yet") and no workqueue
// ("tracing progs cannot use bpf_wq yet", since 6.10; later kernels dropped that check);
// socket filters may hold no spin lock, so neither a root (which comes with its lock) nor a
// resilient lock; every other type may hold all of them.
func TestHeldObjectsOnHost(t *testing.T) {
	requireRoot(t)
	p, err := New(testRegistry(t), Options{ProgTypes: heldVariants, Helpers: []int{1}})
	testenv.Need(t, err, "a kernel whose BTF and program types the probe can read")
	maps, err := newHeldMaps(p.held.sizes)
	if err != nil {
		t.Fatal(err)
	}
	defer maps.close()
	tracing := map[string]bool{"kprobe": true, "tracepoint": true, "raw_tracepoint": true}
	tests := []struct {
		object  string
		refused func(progType string) string // the refusal's words, "" where allowed
	}{
		{"bpf_list_head", func(pt string) string {
			return pick(tracing[pt], "tracing progs cannot use bpf_{list_head,rb_root} yet", pt == "socket_filter", "socket filter progs cannot use bpf_spin_lock yet")
		}},
		{"bpf_rb_root", func(pt string) string {
			return pick(tracing[pt], "tracing progs cannot use bpf_{list_head,rb_root} yet", pt == "socket_filter", "socket filter progs cannot use bpf_spin_lock yet")
		}},
		{"bpf_res_spin_lock", func(pt string) string {
			return pick(tracing[pt], "tracing progs cannot use bpf_spin_lock yet", pt == "socket_filter", "socket filter progs cannot use bpf_spin_lock yet")
		}},
		{"bpf_wq", func(pt string) string { return pick(tracing[pt], "tracing progs cannot use bpf_wq yet", false, "") }},
	}
	l := newLoader(p.logSize)
	for _, tt := range tests {
		fd, err := maps.fd(tt.object)
		testenv.Need(t, err, "a kernel (6.16 or later) whose BTF has "+tt.object)
		for _, v := range p.variants {
			if !v.info.Usable {
				continue
			}
			t.Run(tt.object+"/"+v.spec.progType+"/"+v.spec.name, func(t *testing.T) {
				h := askHeld(l, v, tt.object, fd)
				want := tt.refused(v.spec.progType)
				switch {
				case h.Inconclusive:
					t.Fatalf("inconclusive: %s", h.Detail)
				case want == "" && !h.Allowed:
					t.Errorf("refused (%s), want allowed", h.Detail)
				case want != "" && (h.Allowed || h.Detail != want):
					t.Errorf("allowed %v (%q), want refused with %q", h.Allowed, h.Detail, want)
				}
				t.Logf("%s in %s: allowed %v %s", tt.object, h.Variant, h.Allowed, h.Detail)
			})
		}
	}
}

// pick returns a when ca holds, else b when cb holds, else "".
func pick(ca bool, a string, cb bool, b string) string {
	switch {
	case ca:
		return a
	case cb:
		return b
	}
	return ""
}

// TestHeldObjectsInRun runs the probe with the kfuncs of each object and checks that the facts
// answer each object exactly in the variants that were offered one of its kfuncs, once each.
func TestHeldObjectsInRun(t *testing.T) {
	requireRoot(t)
	kfuncs := []string{"bpf_list_push_front_impl", "bpf_rbtree_first", "bpf_res_spin_lock", "bpf_wq_init", "bpf_task_acquire"}
	p, err := New(testRegistry(t), Options{ProgTypes: heldVariants, Helpers: []int{1}, Kfuncs: kfuncs})
	testenv.Need(t, err, "a kernel whose BTF and program types the probe can read")
	want := map[string]bool{} // object + " " + variant
	err = p.Run(context.Background(), func(r observation.Result) error {
		for _, o := range registry.ObjectsHeld(prototypeOf(p.Facts(), r.Kfunc)) {
			if r.Outcome.Offered() {
				want[o+" "+r.ProgType+"/"+r.Variant] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Skip("the running kernel offers none of the kfuncs to these program types")
	}
	var got []string
	for _, h := range p.Facts().HeldObjects {
		got = append(got, h.Object+" "+h.Variant)
		if h.Inconclusive {
			t.Errorf("%s in %s inconclusive: %s", h.Object, h.Variant, h.Detail)
		}
		if h.Allowed == (h.Detail != "") {
			t.Errorf("%s in %s: allowed %v with detail %q", h.Object, h.Variant, h.Allowed, h.Detail)
		}
	}
	slices.Sort(got)
	wantList := slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(got, wantList) {
		t.Errorf("held objects asked:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantList, "\n"))
	}
}

// prototypeOf is the prototype the facts give kfunc name, "" for none.
func prototypeOf(f observation.Facts, name string) string {
	for _, k := range f.Kfuncs {
		if k.Name == name && k.Module == "" {
			return k.Prototype
		}
	}
	return ""
}
