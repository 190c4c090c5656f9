package probe

import (
	"slices"
	"testing"

	ebpfasm "github.com/cilium/ebpf/asm"
)

// TestStraightSteps counts a two-slot load as one step and gives up on a program that jumps
// before its call.
func TestStraightSteps(t *testing.T) {
	mov := ebpfasm.Mov.Imm(ebpfasm.R1, 0)
	call := ebpfasm.FnKtimeGetNs.Call()
	ld := ebpfasm.LoadImm(ebpfasm.R2, 1<<40, ebpfasm.DWord)
	tests := []struct {
		name   string
		insns  ebpfasm.Instructions
		callAt int
		want   []int
		ok     bool
	}{
		{"plain", ebpfasm.Instructions{mov, mov, call, ebpfasm.Return()}, 2, []int{0, 1, 2}, true},
		{"two-slot load", ebpfasm.Instructions{mov, ld, mov, call, ebpfasm.Return()}, 4, []int{0, 1, 3, 4}, true},
		{"jump before the call", ebpfasm.Instructions{mov, ebpfasm.JEq.Imm(ebpfasm.R0, 0, "out"), call, ebpfasm.Return().WithSymbol("out")}, 2, nil, false},
		{"a call before the call", ebpfasm.Instructions{call, mov, call, ebpfasm.Return()}, 2, []int{0, 1, 2}, true},
		{"call offset not an instruction", ebpfasm.Instructions{ld, call, ebpfasm.Return()}, 1, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := straightSteps(tt.insns, tt.callAt)
			if ok != tt.ok || (ok && !slices.Equal(got, tt.want)) {
				t.Errorf("straightSteps = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestRefusedAt reads the refused instruction from the statistics line as LastInsn reads it
// from a trace: 24 processed of a straight program whose call is its 24th step is the call.
func TestRefusedAt(t *testing.T) {
	steps := []int{0, 1, 3, 4} // a two-slot load at 1
	const callAt = 4
	stats := func(n string) string {
		return "R1 type=scalar expected=fp\nprocessed " + n + " insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
	}
	tests := []struct {
		name string
		log  string
		want int
		ok   bool
	}{
		{"before walking", "attach_btf_id 5 is not a function\nprocessed 0 insns (limit 1000000) max_states_per_insn 0\n", -1, true},
		{"first step", stats("1"), 0, true},
		{"after the two-slot load", stats("3"), 3, true},
		{"at the call", stats("4"), callAt, true},
		{"past the call", stats("6"), callAt + 1, true},
		{"no statistics line", "R1 type=scalar expected=fp\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := refusedAt(tt.log, steps, callAt)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("refusedAt = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
