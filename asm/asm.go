// Package asm builds small BPF programs that call helpers named in the registry. It is a thin layer
// over github.com/cilium/ebpf/asm: every instruction comes from that package's builders, so this
// package adds registry awareness (names, ids, version-aware fallbacks) and never encodes an
// instruction itself.
//
// For BPF library authors: Call and CallWithArgs build a helper call from a registry entry, by
// name or id, so that a typo or a surplus argument fails when the program is built instead of
// when a kernel refuses it; LoadArgs places arguments in r1..r5 for any call; CallFirstAvailable
// picks the first helper of a list that the registry says a program type has on a kernel, to
// fall back to an older helper where a newer one is missing. ProbeProgramReturning,
// TrivialProgramReturning and Marshal build the programs the probe engine loads.
package asm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	ebpfasm "github.com/cilium/ebpf/asm"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// ErrNoCompatibleHelper is returned (wrapped) by CallFirstAvailable when none of the candidate
// helpers is usable from the program type on the kernel.
var ErrNoCompatibleHelper = errors.New("no compatible helper")

// ErrTooManyArgs is returned (wrapped) when a call is given more than the five arguments BPF
// helpers can take (r1..r5).
var ErrTooManyArgs = errors.New("too many helper arguments")

// MaxArgs is the number of argument registers a BPF helper call has: r1 to r5.
const MaxArgs = 5

// Call returns the call instruction for the helper that reg knows by nameOrID: a name with or
// without the bpf_ prefix ("ktime_get_ns", "bpf_ktime_get_ns") or a decimal id ("5"). A helper the
// registry does not hold is an error naming it, wrapping registry.ErrUnknownHelper, because a
// typo would otherwise become a call to whatever id happens to be there.
func Call(reg *registry.Registry, nameOrID string) (ebpfasm.Instruction, error) {
	h, err := reg.Find(nameOrID)
	if err != nil {
		return ebpfasm.Instruction{}, fmt.Errorf("call %s: %w", nameOrID, err)
	}
	return callID(h.ID), nil
}

// callID returns the call instruction for a raw helper id, known to any registry or not: probe
// programs ask kernels about ids nobody has named yet (one past the kernel's last).
func callID(id int) ebpfasm.Instruction {
	return ebpfasm.BuiltinFunc(uint32(id)).Call()
}

// Marshal encodes insns in the host's byte order, the form BPF_PROG_LOAD takes.
func Marshal(insns ebpfasm.Instructions) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(insns) * ebpfasm.InstructionSize)
	if err := insns.Marshal(&buf, nativeOrder()); err != nil {
		return nil, fmt.Errorf("marshal instructions: %w", err)
	}
	return buf.Bytes(), nil
}

// nativeOrder returns the host's byte order as one of the two values cilium/ebpf's encoder
// accepts (it does not take binary.NativeEndian itself).
func nativeOrder() binary.ByteOrder {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}
