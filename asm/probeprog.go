package asm

import ebpfasm "github.com/cilium/ebpf/asm"

// ProbeProgramReturning returns the program that asks a verifier whether helper id is usable:
// r1..r5 = 0, call id, r0 = ret, exit. Zeroing the argument registers makes the answer
// independent of the program type's context: the verifier looks the helper up (type, attach
// target, license, sleepability) before it checks arguments, so a complaint about an argument
// means the helper itself was accepted. Setting r0 afterwards keeps return-value checks from
// failing a load whose call was fine; ret is not always 0 because some attach types' programs
// must return something else (cgroup recvmsg hooks must return 1).
func ProbeProgramReturning(id int, ret int32) ebpfasm.Instructions {
	return probeCall(callID(id), ret)
}

// probeCall returns r1..r5 = 0, call, r0 = ret, exit: the shape of every probe program, helper
// or kfunc, so that both kinds of call are asked about in the same context.
func probeCall(call ebpfasm.Instruction, ret int32) ebpfasm.Instructions {
	insns := make(ebpfasm.Instructions, 0, 8)
	for r := ebpfasm.R1; r <= ebpfasm.R5; r++ {
		insns = append(insns, ebpfasm.Mov.Imm(r, 0))
	}
	return append(insns,
		call,
		ebpfasm.Mov.Imm(ebpfasm.R0, ret),
		ebpfasm.Return(),
	)
}

// TrivialProgramReturning returns r0 = ret, exit: a program every program type accepts (with the
// return value its attach type allows), used to learn whether a type or attach variant loads at
// all before any helper is asked about.
func TrivialProgramReturning(ret int32) ebpfasm.Instructions {
	return ebpfasm.Instructions{
		ebpfasm.Mov.Imm(ebpfasm.R0, ret),
		ebpfasm.Return(),
	}
}
