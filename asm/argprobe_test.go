package asm

import (
	"errors"
	"testing"

	ebpfasm "github.com/cilium/ebpf/asm"
)

// lastWrite returns the last instruction before the probed call that writes dst.
func lastWrite(t *testing.T, insns ebpfasm.Instructions, dst ebpfasm.Register) ebpfasm.Instruction {
	t.Helper()
	call := -1
	for i, ins := range insns {
		if ins.Symbol() == argProbeOut {
			call = i - 1
		}
	}
	if call < 0 || !insns[call].IsBuiltinCall() {
		t.Fatalf("no probed call before the %q label:\n%v", argProbeOut, insns)
	}
	for i := call - 1; i >= 0; i-- {
		ins := insns[i]
		if ins.Dst == dst && !ins.OpCode.Class().IsJump() && ins.OpCode.Class() != ebpfasm.StXClass {
			return ins
		}
	}
	t.Fatalf("nothing writes %s before the call:\n%v", dst, insns)
	return ebpfasm.Instruction{}
}

func TestArgProbeProgramPlainValues(t *testing.T) {
	insns, err := ArgProbeProgram(1, 0, []ArgValue{ArgMapPtr(7), ArgStack(), ArgScalar(8), ArgContext()})
	if err != nil {
		t.Fatal(err)
	}
	if ins := lastWrite(t, insns, ebpfasm.R1); !ins.IsLoadFromMap() || ins.Constant != 7 {
		t.Errorf("r1 = %v, want the map with fd 7", ins)
	}
	// r2 = r10; r2 += -ArgStackBytes
	if ins := lastWrite(t, insns, ebpfasm.R2); ins.OpCode != ebpfasm.Add.Op(ebpfasm.ImmSource) || ins.Constant != -ArgStackBytes {
		t.Errorf("r2 = %v, want r10 - %d", ins, ArgStackBytes)
	}
	if ins := lastWrite(t, insns, ebpfasm.R3); ins.Constant != 8 {
		t.Errorf("r3 = %v, want 8", ins)
	}
	if ins := lastWrite(t, insns, ebpfasm.R4); ins.Src != ebpfasm.R6 {
		t.Errorf("r4 = %v, want the context saved in r6", ins)
	}
	if ins := lastWrite(t, insns, ebpfasm.R5); ins.Constant != 0 {
		t.Errorf("r5 = %v, want 0 for a register past the arguments", ins)
	}
	for _, ins := range insns {
		if ins.Symbol() == ArgProbeCallback {
			t.Errorf("a callback without a callback argument:\n%v", insns)
		}
	}
	// Every stack slot the buffer covers is written before any argument is loaded.
	zeroed := map[int16]bool{}
	for _, ins := range insns {
		if ins.OpCode == ebpfasm.StoreMemOp(ebpfasm.DWord) && ins.Dst == ebpfasm.R10 {
			zeroed[ins.Offset] = true
		}
	}
	if len(zeroed) != ArgStackBytes/8 {
		t.Errorf("%d stack slots zeroed, want %d", len(zeroed), ArgStackBytes/8)
	}
	if _, err := Marshal(insns); err != nil {
		t.Fatal(err)
	}
}

func TestArgProbeProgramCallback(t *testing.T) {
	insns, err := ArgProbeProgram(181, 0, []ArgValue{ArgScalar(1), ArgSubprog()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Marshal(insns); err != nil {
		t.Fatal(err)
	}
	// Marshal resolved the reference: the 64-bit load points at the callback.
	it := insns.Iterate()
	var load, callback int64 = -1, -1
	for it.Next() {
		if it.Ins.IsLoadOfFunctionPointer() {
			load = int64(it.Offset) + 1 + it.Ins.Constant
		}
		if it.Ins.Symbol() == ArgProbeCallback {
			callback = int64(it.Offset)
		}
	}
	if load < 0 || load != callback {
		t.Fatalf("function pointer resolves to %d, callback at %d:\n%v", load, callback, insns)
	}
}

func TestArgProbeProgramComputed(t *testing.T) {
	insns, err := ArgProbeProgram(141, 0, []ArgValue{ArgHelperResult(158), ArgStack(), ArgScalar(8), ArgContextField(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if ins := lastWrite(t, insns, ebpfasm.R1); ins.Src != ebpfasm.R7 {
		t.Errorf("r1 = %v, want r7 (the first computed value)", ins)
	}
	if ins := lastWrite(t, insns, ebpfasm.R4); ins.Src != ebpfasm.R8 {
		t.Errorf("r4 = %v, want r8 (the second computed value)", ins)
	}
	// Each pointer on the way is checked: the helper result once, the context path twice.
	checks := 0
	for _, ins := range insns {
		if ins.OpCode.JumpOp() == ebpfasm.JEq && ins.Reference() == argProbeOut {
			checks++
		}
	}
	if checks != 3 {
		t.Errorf("%d NULL checks, want 3:\n%v", checks, insns)
	}
	if _, err := Marshal(insns); err != nil {
		t.Fatal(err)
	}
}

func TestArgProbeProgramDynptr(t *testing.T) {
	insns, err := ArgProbeProgram(203, 0, []ArgValue{ArgDynptr(197, ArgMapValue(3, 0), ArgScalar(8), ArgScalar(0))})
	if err != nil {
		t.Fatal(err)
	}
	if ins := lastWrite(t, insns, ebpfasm.R1); ins.Constant != -(ArgStackBytes + dynptrBytes) {
		t.Errorf("r1 = %v, want r10 - %d", ins, ArgStackBytes+dynptrBytes)
	}
	if _, err := Marshal(insns); err != nil {
		t.Fatal(err)
	}
}

func TestArgProbeProgramRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []ArgValue
	}{
		{"four computed", []ArgValue{ArgHelperResult(158), ArgHelperResult(158), ArgHelperResult(158), ArgContextField(168)}},
		{"nested", []ArgValue{ArgHelperResult(131, ArgHelperResult(158))}},
		{"empty path", []ArgValue{ArgContextField()}},
		{"bad map fd", []ArgValue{ArgMapPtr(-1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ArgProbeProgram(1, 0, tt.args); !errors.Is(err, ErrArgValue) {
				t.Fatalf("error %v, want ErrArgValue", err)
			}
		})
	}
	if _, err := ArgProbeProgram(1, 0, make([]ArgValue, 6)); !errors.Is(err, ErrTooManyArgs) {
		t.Fatalf("six arguments: error %v, want ErrTooManyArgs", err)
	}
}
