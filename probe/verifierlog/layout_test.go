package verifierlog

import "testing"

// TestLayout covers the parts of a log that are no messages: the trace, the statistics and the
// block 7.3 appends, whose quoted instructions and prose must neither end the trace nor count
// as a message.
func TestLayout(t *testing.T) {
	const trace = "0: R1=ctx() R10=fp0\n0: (b7) r1 = 0                        ; R1=0\n5: (85) call bpf_probe_read#4\n"
	const explanation = "\nVerification failed: Policy: Operation is not allowed\n\nReason:\n  The helper is not allowed.\n  >>> 5 | (85) call bpf_probe_read#4\n"
	const stats = "processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
	tests := []struct {
		name   string
		log    string
		first  string
		last   int
		before bool
	}{
		{"message", trace + "unknown func bpf_probe_read#4\n" + stats, "unknown func bpf_probe_read#4", 5, false},
		{"7.3", trace + "program of this type cannot use helper bpf_probe_read#4\n" + explanation + stats, "program of this type cannot use helper bpf_probe_read#4", 5, false},
		{"only the explanation", trace + explanation + "R1 type=scalar expected=fp\n" + stats, "", 5, false},
		{"refused before verification", "attach_btf_id 5 is not a function\nprocessed 0 insns (limit 1000000)\n", "attach_btf_id 5 is not a function", -1, true},
		{"empty", "", "", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FirstMessage(tt.log); got != tt.first {
				t.Errorf("FirstMessage = %q, want %q", got, tt.first)
			}
			if got := LastInsn(tt.log); got != tt.last {
				t.Errorf("LastInsn = %d, want %d", got, tt.last)
			}
			if got := BeforeVerification(tt.log); got != tt.before {
				t.Errorf("BeforeVerification = %v, want %v", got, tt.before)
			}
		})
	}
}

// TestReaders checks that each reader reads only its own rows, in the grammar's order, and that
// a message meant for one reader is no word to another.
func TestReaders(t *testing.T) {
	tests := []struct {
		line                string
		helper, kfunc, args string // the row each reader matches, "" for none
	}{
		{"unknown func bpf_probe_read#4", "unknown-func", "", ""},
		{"calling kernel function bpf_task_acquire is not allowed", "", "kfunc-not-allowed", ""},
		{"R1 type=scalar expected=map_ptr", "wrong-type", "wrong-type", "wrong-type"},
		{"R1 must be referenced when passed to release function", "", "release-unreferenced", "reg-first"},
		{"Expected an initialized dynptr as arg #0", "", "expected-dynptr", "arg-index"},
		{"cannot pass map_type 1 into func bpf_ringbuf_output#130", "", "", "map-type"},
		{"some wording of a future kernel", "", "", ""},
	}
	name := func(r *Row) string {
		if r == nil {
			return ""
		}
		return r.Name
	}
	for _, tt := range tests {
		h, k, a := name(Helpers.Match(tt.line)), name(Kfuncs.Match(tt.line)), name(args.Match(tt.line))
		if h != tt.helper || k != tt.kfunc || a != tt.args {
			t.Errorf("%q: rows %q, %q, %q; want %q, %q, %q", tt.line, h, k, a, tt.helper, tt.kfunc, tt.args)
		}
	}
}
