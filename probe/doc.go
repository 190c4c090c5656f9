// Package probe asks the running kernel which BPF helpers each program type offers. For every
// program type the kernel has, and every attach variant that changes the answer (expected attach
// type, attach target, sleepable flag), it loads one tiny program per helper id (r1..r5 = 0;
// call id; r0 = 0; exit) with a level-1 verifier log and classifies what the verifier said.
//
// The classification reads the whole log, because newer kernels (7.3) append a structured
// "Verification failed" block after the message that decides the answer; a log no rule knows is
// reported as observation.Unclassified instead of being guessed at. Loads are raw bpf(BPF_PROG_LOAD) calls
// with attach targets resolved once from the kernel's own BTF, and every program is closed as
// soon as its answer is read: nothing stays loaded and nothing is attached.
//
// On a kernel release its built-in plan (plan.json, learnt by tools/probeplan from exhaustive
// observations) was learnt from, a variant other than its type's first is loaded only for the
// functions whose answer differed from the first's there; the rest take the first's answer,
// marked with observation.Result.From. Options.Exhaustive, and any other release, load every
// pair.
//
// The same engine runs on a developer's machine (bpfmatrix probe) and as the agent inside QEMU
// guests, one per kernel release.
package probe
