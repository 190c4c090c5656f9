package asm

import (
	"fmt"
	"math"

	ebpfasm "github.com/cilium/ebpf/asm"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// Arg is one helper argument: an immediate value or the contents of a register. Build it with Imm
// or Reg.
type Arg struct {
	isReg bool
	reg   ebpfasm.Register
	imm   int64
}

// Imm returns an argument holding the constant v.
func Imm(v int64) Arg { return Arg{imm: v} }

// Reg returns an argument copied from register r (r0..r10; r10 is the read-only frame pointer).
func Reg(r ebpfasm.Register) Arg { return Arg{isReg: true, reg: r} }

// String renders the argument as it would appear in an assembly listing.
func (a Arg) String() string {
	if a.isReg {
		return a.reg.String()
	}
	return fmt.Sprint(a.imm)
}

// LoadArgs returns the instructions that put args[0] in r1, args[1] in r2 and so on, as if all
// assignments happened at once: a register argument reads the value the register had before any
// of them, so LoadArgs(Reg(R2), Reg(R1)) swaps r1 and r2 instead of copying one into both. When the
// moves form a cycle, r0 is used as the scratch register: the call that follows overwrites r0
// anyway, and r6..r9 belong to the caller. Registers past len(args) are left alone.
func LoadArgs(args ...Arg) (ebpfasm.Instructions, error) {
	if len(args) > MaxArgs {
		return nil, fmt.Errorf("load %d arguments: %w (a helper takes at most %d)", len(args), ErrTooManyArgs, MaxArgs)
	}
	type move struct{ dst, src ebpfasm.Register }
	var moves []move
	var insns ebpfasm.Instructions
	for i, a := range args {
		if a.isReg && a.reg > ebpfasm.R10 {
			return nil, fmt.Errorf("argument %d: invalid source register %s", i+1, a.reg)
		}
		dst := ebpfasm.R1 + ebpfasm.Register(i)
		if a.isReg && a.reg != dst {
			moves = append(moves, move{dst, a.reg})
		}
	}

	// Register moves first: an immediate written early could overwrite a register another
	// argument still has to be copied from.
	isSource := func(r ebpfasm.Register, except int) bool {
		for i, m := range moves {
			if i != except && m.src == r {
				return true
			}
		}
		return false
	}
	for len(moves) > 0 {
		progressed := false
		for i := 0; i < len(moves); i++ {
			m := moves[i]
			if isSource(m.dst, i) {
				continue
			}
			insns = append(insns, ebpfasm.Mov.Reg(m.dst, m.src))
			moves = append(moves[:i], moves[i+1:]...)
			i--
			progressed = true
		}
		if progressed {
			continue
		}
		// Every remaining destination is still needed as a source: the moves form cycles.
		// Park one destination's old value in r0 and let its readers take it from there. No
		// remaining move reads r0 here, because r0 is never a destination and so cannot be on
		// a cycle (see the package tests for the argument).
		parked := moves[0].dst
		insns = append(insns, ebpfasm.Mov.Reg(ebpfasm.R0, parked))
		for i := range moves {
			if moves[i].src == parked {
				moves[i].src = ebpfasm.R0
			}
		}
	}

	for i, a := range args {
		if a.isReg {
			continue
		}
		dst := ebpfasm.R1 + ebpfasm.Register(i)
		if a.imm >= math.MinInt32 && a.imm <= math.MaxInt32 {
			insns = append(insns, ebpfasm.Mov.Imm(dst, int32(a.imm)))
		} else {
			insns = append(insns, ebpfasm.LoadImm(dst, a.imm, ebpfasm.DWord))
		}
	}
	return insns, nil
}

// CallWithArgs returns the instructions that load r1..r5 from args (see LoadArgs) and then call
// the helper reg knows by nameOrID (see Call). More arguments than the helper's prototype declares
// is an error, because the extra registers would be silently ignored by the kernel.
func CallWithArgs(reg *registry.Registry, nameOrID string, args ...Arg) (ebpfasm.Instructions, error) {
	h, err := reg.Find(nameOrID)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", nameOrID, err)
	}
	if n := len(h.Signature.Args); len(args) > n {
		return nil, fmt.Errorf("call %s: %w: %d given, the prototype declares %d", h.CName(), ErrTooManyArgs, len(args), n)
	}
	insns, err := LoadArgs(args...)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", h.CName(), err)
	}
	return append(insns, callID(h.ID)), nil
}
