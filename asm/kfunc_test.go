package asm

import (
	"encoding/binary"
	"testing"

	ebpfasm "github.com/cilium/ebpf/asm"
)

// TestKfuncProbeProgram checks the kfunc call's encoding, which cilium/ebpf's builders do not
// make for a raw BTF id: opcode 0x85 (JMP|CALL|K), src_reg BPF_PSEUDO_KFUNC_CALL (2) in the high
// nibble of the register byte on little-endian hosts, off 0 (vmlinux), imm the BTF id.
func TestKfuncProbeProgram(t *testing.T) {
	insns := KfuncProbeProgram(63566, 1)
	if !insns[5].IsKfuncCall() {
		t.Fatalf("instruction 5 is %v, not a kfunc call", insns[5])
	}
	b, err := Marshal(insns)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 8*ebpfasm.InstructionSize {
		t.Fatalf("probe program is %d bytes, want 8 instructions", len(b))
	}
	call := b[5*8 : 6*8]
	src := call[1] >> 4
	if nativeOrder() == binary.BigEndian {
		src = call[1] & 0xf
	}
	off := nativeOrder().Uint16(call[2:])
	imm := nativeOrder().Uint32(call[4:])
	if call[0] != 0x85 || src != 2 || off != 0 || imm != 63566 {
		t.Fatalf("kfunc call encodes as % x", call)
	}
	if ret := b[6*8:]; ret[0] != 0xb7 || nativeOrder().Uint32(ret[4:]) != 1 {
		t.Fatalf("r0 = 1 encodes as % x", ret[:8])
	}
}
