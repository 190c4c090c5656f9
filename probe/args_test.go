package probe

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// givens lists what the argument pass gave each argument.
func givens(h observation.HelperArgs) []string {
	out := make([]string, len(h.Args))
	for i, a := range h.Args {
		out[i] = a.Given
	}
	return out
}

// TestHelperArgsHost walks the arguments of helpers whose kinds follow from the kernel's source
// on every kernel that has them (the others are skipped), and checks what the pass had to
// give each argument. The ids leave out the helpers some values come from
// (bpf_get_current_task_btf, bpf_sk_lookup_tcp, ...): the pass asks about those itself.
func TestHelperArgsHost(t *testing.T) {
	requireRoot(t)
	want := map[int][]string{
		1:   {"map", "stack"},                                  // map_lookup_elem
		5:   {},                                                // ktime_get_ns
		12:  {"ctx", "map:prog_array"},                         // tail_call
		26:  {"ctx", "scalar", "stack", "size"},                // skb_load_bytes
		86:  {"sk_ref"},                                        // sk_release
		130: {"map:ringbuf", "stack", "scalar", "scalar"},      // ringbuf_output
		132: {"ringbuf_mem", "scalar"},                         // ringbuf_submit
		141: {"task", "stack", "scalar", "scalar"},             // get_task_stack
		165: {"null", "scalar", "const_str", "null", "scalar"}, // snprintf
		169: {"map_value:timer", "map:timer", "scalar"},        // timer_init
		181: {"scalar", "func", "null", "scalar"},              // loop
		203: {"dynptr", "scalar", "scalar"},                    // dynptr_data
	}
	var ids []int
	for id := range want {
		ids = append(ids, id)
	}
	p, err := New(testRegistry(t), Options{
		ProgTypes: []string{"socket_filter", "sched_cls", "kprobe"},
		Helpers:   ids,
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.HelperArgs() != nil {
		t.Fatalf("HelperArgs before Run = %v, want nil", p.HelperArgs())
	}
	offered := map[int]bool{}
	if err := p.Run(context.Background(), func(r observation.Result) error {
		offered[r.HelperID] = offered[r.HelperID] || r.Outcome == observation.Supported || r.Outcome == observation.GPLOnly
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := map[int]observation.HelperArgs{}
	for _, h := range p.HelperArgs() {
		got[h.HelperID] = h
		t.Logf("%3d %-22s %-28s complete=%-5v %v %s", h.HelperID, p.helperName(h.HelperID), h.Variant, h.Complete, h.Args, h.Detail)
	}
	for id, given := range want {
		h, ok := got[id]
		switch {
		case !offered[id]:
			if ok {
				t.Errorf("%s: argument kinds of a helper no variant offers", p.helperName(id))
			} else {
				t.Logf("%s: not offered by this kernel", p.helperName(id))
			}
		case !ok:
			t.Errorf("%s: no argument kinds", p.helperName(id))
		case !h.Complete:
			t.Errorf("%s: incomplete: %s", p.helperName(id), h.Detail)
		case !slices.Equal(givens(h), given):
			t.Errorf("%s: given %q, want %q", p.helperName(id), givens(h), given)
		}
	}
	if h := got[1]; len(h.Args) == 2 && (!slices.Equal(h.Args[0].Expected, []string{"map_ptr"}) || !slices.Contains(h.Args[1].Expected, "fp")) {
		t.Errorf("map_lookup_elem expects %v", h.Args)
	}
	if s := p.Stats(); s.ArgLoads == 0 || s.ArgLoads > len(want)*(argLoadBudget+5) {
		t.Errorf("%d argument loads for %d helpers", s.ArgLoads, len(want))
	}
	if !slices.EqualFunc(p.Facts().HelperArgs, p.HelperArgs(), func(a, b observation.HelperArgs) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
		t.Errorf("Facts().HelperArgs and HelperArgs() differ")
	}
}

// TestHelperArgsFullHost walks every helper the host offers somewhere and logs the result
// (go test -v); it fails only when the pass costs more than its budget allows.
func TestHelperArgsFullHost(t *testing.T) {
	requireRoot(t)
	p, err := New(testRegistry(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background(), func(observation.Result) error { return nil }); err != nil {
		t.Fatal(err)
	}
	complete := 0
	for _, h := range p.HelperArgs() {
		if h.Complete {
			complete++
		}
		var args []string
		for _, a := range h.Args {
			arg := a.Given + "=" + strings.Join(a.Expected, "|")
			if a.BTFType != "" {
				arg += "(" + a.BTFType + ")"
			}
			args = append(args, arg)
		}
		t.Logf("%3d %-28s %-28s %-5v %s :: %s", h.HelperID, p.helperName(h.HelperID), h.Variant, h.Complete, strings.Join(args, " "), h.Detail)
	}
	s := p.Stats()
	t.Logf("%d helpers, %d complete, %d argument loads in %v (the whole run: %d loads in %v)",
		len(p.HelperArgs()), complete, s.ArgLoads, s.ArgDuration, s.Loads, s.Duration)
	if max := len(p.HelperArgs()) * (argLoadBudget + 5); s.ArgLoads > max {
		t.Errorf("%d argument loads, more than the budget of %d", s.ArgLoads, max)
	}
}
