// Package asm builds small BPF programs that call helpers named in the registry. It is a thin layer
// over github.com/cilium/ebpf/asm: every instruction comes from that package's builders, so this
// package adds registry awareness (names, ids, version-aware fallbacks) and never encodes an
// instruction itself.
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
	return CallID(h.ID), nil
}

// CallID returns the call instruction for a raw helper id, known to any registry or not. Probes
// use it to ask a kernel about ids nobody has named yet (one past the kernel's last).
func CallID(id int) ebpfasm.Instruction {
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
