package asm

import (
	"bytes"
	"errors"
	"fmt"

	ebpfasm "github.com/cilium/ebpf/asm"
)

// ReleaseCall is one call of a probe program's release epilogue: a kfunc that gives back a
// reference the program's context handed it (a struct_ops member whose argument is marked
// __ref, such as Qdisc_ops.enqueue's skb), with its arguments read from that context.
type ReleaseCall struct {
	// Call is the releasing kfunc's call (KfuncCall).
	Call ebpfasm.Instruction
	// CtxArgs are the byte offsets in the program's context (a struct_ops program's u64 array
	// of its member's arguments) of the values to pass, r1 first.
	CtxArgs []int16
}

// ErrNotProbeShape is returned (wrapped) by Releasing for a program that is not shaped as the
// probe programs are: no jumps but calls, r6 unused, ending in r0 = imm; exit.
var ErrNotProbeShape = errors.New("not a probe program")

// releaseCtx holds the context pointer across the probed call: r6 is callee-saved, and no
// probe program touches it.
const releaseCtx = ebpfasm.R6

// Releasing returns prog, a probe program (ProbeProgramReturning, KfuncProbeProgram,
// TrivialProgramReturning), with a release epilogue: r6 = r1 first, then prog's own
// instructions up to its probed call included, then each release call with its arguments
// loaded from the context, then prog's r0 = ret; exit. The probed call comes first, so a
// refusal of it is the verifier's first (and only) message as without the epilogue; the probed
// call keeps its zeroed arguments, so it never holds the reference the epilogue releases, and a
// probed releasing kfunc cannot release it twice.
func Releasing(prog ebpfasm.Instructions, calls []ReleaseCall) (ebpfasm.Instructions, error) {
	if err := checkProbeShape(prog); err != nil {
		return nil, err
	}
	n := len(prog)
	out := make(ebpfasm.Instructions, 0, n+1+3*len(calls))
	out = append(out, ebpfasm.Mov.Reg(releaseCtx, ebpfasm.R1))
	out = append(out, prog[:n-2]...)
	for _, c := range calls {
		if len(c.CtxArgs) > MaxArgs {
			return nil, fmt.Errorf("release call %v: %w", c.Call, ErrTooManyArgs)
		}
		for i, off := range c.CtxArgs {
			out = append(out, ebpfasm.LoadMem(ebpfasm.R1+ebpfasm.Register(i), releaseCtx, off, ebpfasm.DWord))
		}
		out = append(out, c.Call)
	}
	return append(out, prog[n-2:]...), nil
}

// checkProbeShape reports why prog cannot take an epilogue, if it cannot: a jump would land
// elsewhere once instructions are inserted, and a program using r6 would lose the context.
func checkProbeShape(prog ebpfasm.Instructions) error {
	n := len(prog)
	if n < 2 {
		return fmt.Errorf("%w: %d instructions", ErrNotProbeShape, n)
	}
	ret, exit := prog[n-2], prog[n-1]
	want := ebpfasm.Mov.Imm(ebpfasm.R0, int32(ret.Constant))
	if exit != ebpfasm.Return() || ret.OpCode != want.OpCode || ret.Dst != want.Dst || ret.Src != want.Src || ret.Offset != 0 || ret.Constant != want.Constant {
		return fmt.Errorf("%w: it does not end in r0 = imm; exit", ErrNotProbeShape)
	}
	for i, ins := range prog[:n-1] {
		class := ins.OpCode.Class()
		if class.IsJump() && ins.OpCode.JumpOp() != ebpfasm.Call {
			return fmt.Errorf("%w: instruction %d is a jump (%v)", ErrNotProbeShape, i, ins)
		}
		if !class.IsJump() && (ins.Dst == releaseCtx || ins.Src == releaseCtx) {
			return fmt.Errorf("%w: instruction %d uses %v (%v)", ErrNotProbeShape, i, releaseCtx, ins)
		}
	}
	return nil
}

// ReleasingMarshalled is Releasing for a probe program already marshalled (Marshal): the probe
// keeps its programs in that form, made once and shared by its loaders.
func ReleasingMarshalled(b []byte, calls []ReleaseCall) ([]byte, error) {
	prog, err := ebpfasm.AppendInstructions(nil, bytes.NewReader(b), nativeOrder(), "linux")
	if err != nil {
		return nil, fmt.Errorf("unmarshal probe program: %w", err)
	}
	out, err := Releasing(prog, calls)
	if err != nil {
		return nil, err
	}
	return Marshal(out)
}
