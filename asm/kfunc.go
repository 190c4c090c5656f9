package asm

import ebpfasm "github.com/cilium/ebpf/asm"

// KfuncCall returns the call of the vmlinux kfunc whose FUNC has BTF id btfID: src_reg
// BPF_PSEUDO_KFUNC_CALL, imm the id, off 0. A non-zero off would name a module's BTF by its
// index in the load's fd_array, which probe programs do not pass.
func KfuncCall(btfID uint32) ebpfasm.Instruction {
	return ebpfasm.Instruction{
		OpCode:   ebpfasm.OpCode(ebpfasm.JumpClass).SetJumpOp(ebpfasm.Call),
		Src:      ebpfasm.PseudoKfuncCall,
		Constant: int64(btfID),
	}
}

// KfuncProbeProgram returns the program that asks a verifier whether the vmlinux kfunc btfID is
// callable: r1..r5 = 0, call it, r0 = ret, exit. As with ProbeProgramReturning, the verifier
// looks the kfunc up (in the program type's kfunc set, then its flags: sleepable, destructive)
// before it checks arguments, so a complaint about an argument means the call was accepted.
func KfuncProbeProgram(btfID uint32, ret int32) ebpfasm.Instructions {
	return probeCall(KfuncCall(btfID), ret)
}
