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
		1:   {"map", "stack"},                                                 // map_lookup_elem
		5:   {},                                                               // ktime_get_ns
		12:  {"ctx", "map:prog_array", "scalar"},                              // tail_call
		17:  {"ctx"},                                                          // get_cgroup_classid, in tc
		26:  {"ctx", "scalar", "stack", "size"},                               // skb_load_bytes
		81:  {"map:cgroup_storage", "scalar"},                                 // get_local_storage
		86:  {"sk_ref"},                                                       // sk_release
		111: {"ctx_arg", "map:perf_event_array", "scalar", "stack", "scalar"}, // skb_output
		130: {"map:ringbuf", "stack", "scalar", "scalar"},                     // ringbuf_output
		132: {"ringbuf_mem", "scalar"},                                        // ringbuf_submit
		141: {"task", "stack", "scalar", "scalar"},                            // get_task_stack
		165: {"null", "scalar", "const_str", "null", "scalar"},                // snprintf
		169: {"map_value:timer", "map:timer", "scalar"},                       // timer_init
		181: {"scalar", "func", "null", "scalar"},                             // loop
		203: {"dynptr", "scalar", "scalar"},                                   // dynptr_data
	}
	// What the verifier makes of the registers the walk left at 0 (probeUntouched), and of
	// a BTF pointer read from a tracepoint's arguments.
	wantExpected := map[[2]int][]string{
		{4, 3}:   {"any"},    // probe_read's unsafe_ptr: the verifier checks no pointer kind
		{4, 4}:   nil,        // probe_read has no fourth argument
		{12, 3}:  {"any"},    // tail_call's index
		{81, 2}:  {"scalar"}, // get_local_storage's flags, which must be 0
		{111, 1}: {"ptr_", "trusted_ptr_", "rcu_ptr_"},
		{165, 2}: {"scalar"}, // snprintf's str_size, a size that may be 0
		{181, 1}: {"any"},    // loop's nr_loops
		{181, 4}: {"any"},    // loop's flags
	}
	var ids []int
	for id := range want {
		ids = append(ids, id)
	}
	p, err := New(testRegistry(t), Options{
		ProgTypes: []string{"socket_filter", "sched_cls", "kprobe", "cgroup_skb/ingress", "tracing/tp_btf"},
		Helpers:   append(ids, 4),
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
	for key, expected := range wantExpected {
		h, ok := got[key[0]]
		if !ok || !h.Complete {
			continue // reported above, or not offered here
		}
		var have []string
		if key[1] <= len(h.Args) {
			have = h.Args[key[1]-1].Expected
		}
		if !slices.Equal(have, expected) {
			t.Errorf("%s: argument %d expects %q, want %q", p.helperName(key[0]), key[1], have, expected)
		}
	}
	if h := got[111]; h.Complete && (len(h.Args) == 0 || h.Args[0].BTFType != "sk_buff" || !strings.HasPrefix(h.Variant, "tracing/tp_btf:")) {
		t.Errorf("skb_output: %s %v, want an sk_buff from a tp_btf program's context", h.Variant, h.Args)
	}
	if s := p.Stats(); s.ArgLoads == 0 || s.ArgLoads > len(want)*maxHelperLoads {
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
	if max := len(p.HelperArgs()) * maxHelperLoads; s.ArgLoads > max {
		t.Errorf("%d argument loads, more than the budget of %d", s.ArgLoads, max)
	}
}
