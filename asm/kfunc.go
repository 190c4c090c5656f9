package asm

import ebpfasm "github.com/cilium/ebpf/asm"

// KfuncCall returns the call of the vmlinux kfunc whose FUNC has BTF id btfID: src_reg
// BPF_PSEUDO_KFUNC_CALL, imm the id, off 0 (vmlinux). ModuleKfuncCall calls a module's.
func KfuncCall(btfID uint32) ebpfasm.Instruction {
	return ModuleKfuncCall(btfID, 0)
}

// ModuleKfuncCall returns the call of a kfunc of a module: imm is the FUNC's id in the module's
// split BTF, off the index in the load's fd_array of an fd of that module's BTF (0 would mean
// vmlinux, so a module's fd is never at index 0).
func ModuleKfuncCall(btfID uint32, fdIndex int16) ebpfasm.Instruction {
	return ebpfasm.Instruction{
		OpCode:   ebpfasm.OpCode(ebpfasm.JumpClass).SetJumpOp(ebpfasm.Call),
		Src:      ebpfasm.PseudoKfuncCall,
		Offset:   fdIndex,
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

// ModuleKfuncProbeProgram is KfuncProbeProgram for a module's kfunc (see ModuleKfuncCall).
func ModuleKfuncProbeProgram(btfID uint32, fdIndex int16, ret int32) ebpfasm.Instructions {
	return probeCall(ModuleKfuncCall(btfID, fdIndex), ret)
}
