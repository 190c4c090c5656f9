package verifierlog

import (
	"slices"
	"testing"
)

var memKinds = []string{"fp", "pkt", "pkt_meta", "map_key", "map_value", "mem", "ringbuf_mem", "buf", "trusted_ptr_"}

// TestParseComplaintLine covers the verifier's wordings one line at a time: the register, what
// it held and what the verifier wanted, and the lines that are about no argument.
func TestParseComplaintLine(t *testing.T) {
	tests := []struct {
		line     string
		kind     Kind
		reg      int
		got      string
		expected []string
		mapType  int
		about    bool // parseComplaintLine's second result
		argNum   *int // the "arg #N" named; nil for none
	}{
		{line: "R1 type=scalar expected=map_ptr", kind: WrongType, reg: 1, got: "scalar", expected: []string{"map_ptr"}, about: true},
		{line: "R2 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_",
			kind: WrongType, reg: 2, got: "scalar", expected: memKinds, about: true},
		{line: "R1 type=scalar expected=ctx", kind: WrongType, reg: 1, got: "scalar", expected: []string{"ctx"}, about: true},
		{line: "R3 type=scalar expected=func", kind: WrongType, reg: 3, got: "scalar", expected: []string{"func"}, about: true},
		// 5.10 calls a number "inv".
		{line: "R1 type=inv expected=fp, pkt, pkt_meta, map_value, mem, rdonly_buf, rdwr_buf", kind: WrongType, reg: 1, got: "inv",
			expected: []string{"fp", "pkt", "pkt_meta", "map_value", "mem", "rdonly_buf", "rdwr_buf"}, about: true},
		{line: "R3 type=map_ptr expected=scalar", kind: WrongType, reg: 3, got: "map_ptr", expected: []string{"scalar"}, about: true},
		{line: "R1 type=ptr_or_null_ expected=ptr_, trusted_ptr_, rcu_ptr_", kind: WrongType, reg: 1, got: "ptr_or_null_",
			expected: []string{"ptr_", "trusted_ptr_", "rcu_ptr_"}, about: true},
		{line: "R2 invalid zero-sized read: u64=[0,0]", kind: BadSize, reg: 2, about: true},
		{line: "R2 invalid zero-sized read", kind: BadSize, reg: 2, about: true},
		// 5.10 and 6.1 name no register.
		{line: "invalid zero-sized read", kind: BadSize, about: true},
		{line: "R2 min value is negative, either use unsigned or 'var &= const'", kind: BadSize, reg: 2, about: true},
		{line: "R3 unbounded memory access, use 'var &= const' or 'if (var < const)'", kind: BadSize, reg: 3, about: true},
		{line: "Possibly NULL pointer passed to helper arg2", kind: PossiblyNull, reg: 2, about: true},
		{line: "Possibly NULL pointer passed to helper R2", kind: PossiblyNull, reg: 2, about: true}, // 7.2 on
		{line: "R1 is of type task_struct but path is expected", kind: WrongBTFType, reg: 1, got: "task_struct", expected: []string{"path"}, about: true},
		{line: "cannot pass map_type 1 into func bpf_ringbuf_output#130", kind: WrongMapType, mapType: 1, about: true},
		{line: "map 'bpfmatrix_arg' has to have BTF in order to use bpf_timer", kind: NeedsBTFField, got: "bpf_timer", about: true},
		{line: "R1 must be referenced when passed to release function", kind: OtherArg, reg: 1, about: true},
		{line: "R1 must be a rdonly or const str", kind: OtherArg, reg: 1, about: true},
		{line: "arg#0 expected pointer to stack or const struct bpf_dynptr", kind: OtherArg, reg: 1, about: true, argNum: ptr(0)},
		{line: "Expected an initialized dynptr as arg #2", kind: OtherArg, reg: 3, about: true, argNum: ptr(2)},
		// 7.2 on name the register.
		{line: "Expected an initialized dynptr as R1", kind: OtherArg, reg: 1, about: true},
		{line: "release helper bpf_sk_release expects referenced PTR_TO_BTF_ID passed to R1", kind: OtherArg, reg: 1, about: true},
		// 5.10 names none: the value given last is meant.
		{line: "func bpf_sk_release#86 reference has not been acquired before", kind: OtherArg, about: true},
		// A register left without a value that the helper reads.
		{line: "R3 !read_ok", kind: UnsetArg, reg: 3, about: true},
		{line: "arg 1 is an unacquired reference", kind: OtherArg, reg: 1, about: true},
		{line: "Unsupported reg type fp for bpf_dynptr_from_mem data", kind: OtherArg, reg: 1, got: "fp", expected: []string{"map_value"}, about: true},
		{line: "invalid indirect read from stack R2 off -128+0 size 256", kind: OtherArg, reg: 2, about: true},
		{line: "invalid access to map value, value_size=8 off=0 size=64", kind: OtherArg, about: true},
		// Not about an argument register: R0 and R6..R10, and what the verifier says after
		// the call.
		{line: "R0 leaks addr as return value", kind: OtherArg},
		{line: "R6 !read_ok", kind: UnsetArg},
		{line: "get_local_storage() doesn't support non-zero flags", kind: NotAboutArg},
		{line: "R10 type=fp expected=map_ptr", kind: WrongType, got: "fp", expected: []string{"map_ptr"}},
		{line: "Unreleased reference id=2 alloc_insn=24", kind: NotAboutArg},
		{line: "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region", kind: NotAboutArg},
		{line: "At program exit the register R0 has smin=0 smax=0 should have been in [1, 1]", kind: NotAboutArg},
		{line: "ldimm64 failed to find the address for kernel symbol 'bpf_prog_active'.", kind: NotAboutArg},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c, about := ParseComplaintLine(tt.line)
			argNum := -1
			if tt.argNum != nil {
				argNum = *tt.argNum
			}
			if about != tt.about || c.Kind != tt.kind || c.Reg != tt.reg || c.Got != tt.got ||
				!slices.Equal(c.Expected, tt.expected) || c.MapType != tt.mapType || c.ArgNum != argNum {
				t.Fatalf("ParseComplaintLine(%q) = %+v, %v\nwant kind %s reg %d got %q expected %q map type %d, %v",
					tt.line, c, about, tt.kind, tt.reg, tt.got, tt.expected, tt.mapType, tt.about)
			}
		})
	}
}

func ptr(n int) *int { return &n }

// TestParseComplaintLog checks that the refusal is read after the last instruction of the trace
// and before 7.3's explanation, whatever register state is printed on the way.
func TestParseComplaintLog(t *testing.T) {
	log := `func#0 @0
func#1 @40
0: R1=ctx() R10=fp0
39: (85) call bpf_loop#181
caller:
 frame1: R10=fp0
callee:
 frame1: R1=scalar() R10=fp0
40: frame1: R1=scalar() R10=fp0
40: (b7) r0 = 0                       ; frame1: R0_w=0
41: (95) exit
returning from callee:
 frame1: R0_w=0
to caller at 39:
 R0=scalar() R10=fp0
39: (85) call bpf_loop#181
R4 min value is negative, either use unsigned or 'var &= const'

Verification failed: Call Type Safety: Invalid call argument
  The fourth argument (R4) ...
R1 type=scalar expected=map_ptr
processed 30 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0
`
	c := ParseComplaint(log)
	if c.Kind != BadSize || c.Reg != 4 {
		t.Fatalf("parseComplaint = %+v, want a bad size in R4", c)
	}
	if got := LastInsn(log); got != 39 {
		t.Fatalf("lastInsn = %d, want 39", got)
	}
	if c := ParseComplaint("processed 0 insns (limit 1000000)\n"); c.Kind != NotAboutArg || c.Line != "" {
		t.Fatalf("parseComplaint of a log without a message = %+v", c)
	}
}
