package probe

import (
	"errors"
	"slices"
	"testing"

	ebpfasm "github.com/cilium/ebpf/asm"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
)

// TestUnsetArgs checks that the registers asked for hold no value at the probed call and that
// every other instruction is kept: the registers' zeroing is dropped, and r1, which holds the
// context on entry, is cleared by a call right after the entry.
func TestUnsetArgs(t *testing.T) {
	const id = 12 // tail_call
	tests := []struct {
		name  string
		args  []bpfasm.ArgValue
		unset []int
		calls int // calls to bpf_get_prandom_u32 added
		err   bool
	}{
		{name: "trailing", args: []bpfasm.ArgValue{bpfasm.ArgContext(), bpfasm.ArgScalar(7)}, unset: []int{3, 4, 5}},
		{name: "r1", args: nil, unset: []int{1, 2}, calls: 1},
		{name: "after a computed value", args: []bpfasm.ArgValue{bpfasm.ArgHelperResult(helperGetCurrentTaskBTF)}, unset: []int{2}},
		{name: "a register given a value", args: []bpfasm.ArgValue{bpfasm.ArgContext(), bpfasm.ArgScalar(7)}, unset: []int{2}, err: true},
		{name: "a register given a stack pointer", args: []bpfasm.ArgValue{bpfasm.ArgStack()}, unset: []int{1}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			insns, err := bpfasm.ArgProbeProgram(id, 0, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			out, err := unsetArgs(insns, tt.unset)
			if tt.err {
				if !errors.Is(err, bpfasm.ErrArgValue) {
					t.Fatalf("unsetArgs = %v, want an ErrArgValue", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(insns)-len(tt.unset)+tt.calls {
				t.Fatalf("%d instructions from %d, want %d dropped and %d added", len(out), len(insns), len(tt.unset), tt.calls)
			}
			if n := countCalls(out, helperGetPrandomU32) - countCalls(insns, helperGetPrandomU32); n != tt.calls {
				t.Fatalf("%d calls to bpf_get_prandom_u32 added, want %d", n, tt.calls)
			}
			call, _ := offsets(out)
			if call < 0 {
				t.Fatal("no probed call left")
			}
			// Walk back from the call: an unset register must not be written after the last
			// call before it (the entry's clobbering call, or the setup's own).
			written := map[ebpfasm.Register]bool{}
			at := slices.IndexFunc(out, func(ins ebpfasm.Instruction) bool { return ins.Symbol() == "argprobe_out" }) - 1
			for i := at - 1; i >= 0 && !out[i].IsBuiltinCall(); i-- {
				written[out[i].Dst] = true
			}
			for _, r := range tt.unset {
				if written[ebpfasm.R1+ebpfasm.Register(r-1)] {
					t.Errorf("r%d is written before the call", r)
				}
			}
			if _, err := bpfasm.Marshal(out); err != nil {
				t.Fatalf("the program does not marshal: %v", err)
			}
		})
	}
}

func countCalls(insns ebpfasm.Instructions, id int) int {
	n := 0
	for _, ins := range insns {
		if ins.IsBuiltinCall() && ins.Constant == int64(id) {
			n++
		}
	}
	return n
}

// TestUnnamedRegisters covers the complaints that name no register, or name it by a count whose
// base differs between kernels, against what the walk gave so far.
func TestUnnamedRegisters(t *testing.T) {
	mem := []string{"fp", "pkt", "map_value"}
	tests := []struct {
		name      string
		line      string
		given     [bpfasm.MaxArgs]string
		expected  [bpfasm.MaxArgs][]string
		lastGiven int
		want      int
	}{
		// 5.10 and 6.1: the size after the memory given last.
		{name: "zero size", line: "invalid zero-sized read", given: [5]string{"ctx", "scalar", "stack"},
			expected: [5][]string{{"ctx"}, nil, mem}, lastGiven: 3, want: 4},
		{name: "zero size after no memory", line: "invalid zero-sized read", given: [5]string{"ctx"},
			expected: [5][]string{{"ctx"}}, lastGiven: 1, want: 0},
		{name: "reference", line: "func bpf_sk_release#86 reference has not been acquired before",
			given: [5]string{"sk"}, lastGiven: 1, want: 1},
		// 6.1 counts from 1: register 3 holds the stack pointer, register 4 nothing.
		{name: "dynptr counted from 1", line: "Expected an initialized dynptr as arg #3",
			given: [5]string{"stack", "scalar", "stack"}, lastGiven: 3, want: 3},
		// 6.12 on count from 0.
		{name: "dynptr counted from 0", line: "Expected an initialized dynptr as arg #2",
			given: [5]string{"stack", "scalar", "stack"}, lastGiven: 3, want: 3},
		{name: "dynptr in r1", line: "Expected an initialized dynptr as arg #0",
			given: [5]string{"stack"}, lastGiven: 1, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := verifierlog.ParseComplaintLine(tt.line)
			a := &argWalk{lastGiven: tt.lastGiven}
			for i := range a.slots {
				a.slots[i].given, a.slots[i].expected = tt.given[i], tt.expected[i]
			}
			reg := c.Reg
			if reg == 0 {
				reg = a.unnamedReg(c)
			}
			if c.ArgNum >= 0 {
				reg = a.countedReg(c)
			}
			if reg != tt.want {
				t.Fatalf("register %d, want %d (%+v)", reg, tt.want, c)
			}
		})
	}
}
