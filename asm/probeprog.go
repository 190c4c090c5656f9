package asm

import ebpfasm "github.com/cilium/ebpf/asm"

// ProbeProgram returns the program that asks a verifier whether helper id is usable: r1..r5 = 0,
// call id, r0 = 0, exit. Zeroing the argument registers makes the answer independent of the
// program type's context: the verifier looks the helper up (type, attach target, license,
// sleepability) before it checks arguments, so a complaint about an argument means the helper
// itself was accepted. Setting r0 afterwards keeps return-value checks from failing a load whose
// call was fine.
func ProbeProgram(id int) ebpfasm.Instructions {
	return ProbeProgramReturning(id, 0)
}

// ProbeProgramReturning is ProbeProgram with another return value, for the attach types whose
// programs must return something else than 0 (cgroup recvmsg hooks must return 1).
func ProbeProgramReturning(id int, ret int32) ebpfasm.Instructions {
	insns := make(ebpfasm.Instructions, 0, 8)
	for r := ebpfasm.R1; r <= ebpfasm.R5; r++ {
		insns = append(insns, ebpfasm.Mov.Imm(r, 0))
	}
	return append(insns,
		CallID(id),
		ebpfasm.Mov.Imm(ebpfasm.R0, ret),
		ebpfasm.Return(),
	)
}

// TrivialProgram returns r0 = 0, exit: a program every program type accepts, used to learn whether
// a type or attach variant loads at all before any helper is asked about.
func TrivialProgram() ebpfasm.Instructions {
	return TrivialProgramReturning(0)
}

// TrivialProgramReturning is TrivialProgram returning ret.
func TrivialProgramReturning(ret int32) ebpfasm.Instructions {
	return ebpfasm.Instructions{
		ebpfasm.Mov.Imm(ebpfasm.R0, ret),
		ebpfasm.Return(),
	}
}
