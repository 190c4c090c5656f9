package verifierlog

import "testing"

// TestLayout covers the parts of a log that are no messages: the trace, the statistics and the
// block 7.3 appends, whose quoted instructions and prose must neither end the trace nor count
// as a message; and, in the same logs, the instruction an unreleased reference was acquired at
// (the probe releases a reference held from instruction 0, never one its call acquired).
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
		alloc  int // UnreleasedReference's instruction, -1 for none
	}{
		{"message", trace + "unknown func bpf_probe_read#4\n" + stats, "unknown func bpf_probe_read#4", 5, false, -1},
		{"7.3", trace + "program of this type cannot use helper bpf_probe_read#4\n" + explanation + stats, "program of this type cannot use helper bpf_probe_read#4", 5, false, -1},
		{"only the explanation", trace + explanation + "R1 type=scalar expected=fp\n" + stats, "", 5, false, -1},
		{"refused before verification", "attach_btf_id 5 is not a function\nprocessed 0 insns (limit 1000000)\n", "attach_btf_id 5 is not a function", -1, true, -1},
		{"empty", "", "", -1, false, -1},
		{"6.17's refusal at Qdisc_ops.enqueue", "0: R1=ctx() R10=fp0\n0: (b7) r0 = 0                        ; R0=0 refs=1\n1: (95) exit\nUnreleased reference id=1 alloc_insn=0\nprocessed 2 insns",
			"Unreleased reference id=1 alloc_insn=0", 1, false, 0},
		{"a later reference id", "Unreleased reference id=3 alloc_insn=0\n", "Unreleased reference id=3 alloc_insn=0", -1, false, 0},
		{"7.3's explanation after an unreleased reference", "1: (95) exit\nUnreleased reference id=1 alloc_insn=0\n\nVerification failed: Resource Lifetime Safety: Unreleased resource\n\nReason:\n  Owned resource (id=1) was acquired at instruction 0\n",
			"Unreleased reference id=1 alloc_insn=0", 1, false, 0},
		{"acquired by the probed call", "5: (85) call bpf_cgroup_from_id#66272\nUnreleased reference id=2 alloc_insn=5\n", "Unreleased reference id=2 alloc_insn=5", 5, false, 5},
		{"acquired at instruction 10", "Unreleased reference id=2 alloc_insn=10\n", "Unreleased reference id=2 alloc_insn=10", -1, false, 10},
		{"another refusal", "R1 type=scalar expected=ctx\n", "R1 type=scalar expected=ctx", -1, false, -1},
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
			alloc, ok := UnreleasedReference(tt.log)
			if !ok {
				alloc = -1
			}
			if alloc != tt.alloc {
				t.Errorf("UnreleasedReference = %d, %v, want %d", alloc, ok, tt.alloc)
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
