package probe

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf/btf"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
)

// Some struct_ops members hand their program a reference it must give back: Qdisc_ops.enqueue's
// skb (6.17 on), which a qdisc program queues or drops. A program that only returns leaks it,
// and the verifier refuses the trivial program: "Unreleased reference id=1 alloc_insn=0", the
// reference being one the program held from its first instruction. Such a member's variant
// learns, from the kind's stub in BTF (the FUNC KIND__MEMBER whose parameter names the kernel
// reads: a __ref suffix marks a referenced argument), which argument it is, and from the
// kernel's kfuncs one that releases it; every probe program of the variant then ends with that
// release (asm.Releasing), after the probed call.
//
// The classification of the probed call does not change: the call comes first, so a refusal
// of it is the log's first message as without the epilogue; its arguments stay zero, so it
// never holds the reference, and when the probed function is itself the releasing kfunc, its
// NULL argument is refused as an argument ("expects refcounted", "must be referenced or
// trusted"), which means offered, as anywhere else, and nothing is released twice. Only a
// call the verifier accepts reaches the epilogue, which releases what it released in the
// baseline load.

// releaseWords are what a kfunc that releases a reference is named for (bpf_kfree_skb,
// bpf_qdisc_skb_drop, bpf_task_release, ...): kfunc flags such as KF_RELEASE are not in BTF.
var releaseWords = []string{"drop", "release", "kfree"}

// maxReleaseTries bounds the loads spent finding a member's release epilogue.
const maxReleaseTries = 4

// refArg is an argument of a struct_ops member that the kernel hands the program referenced.
type refArg struct {
	index int    // position among the member's arguments; its context offset is 8*index
	name  string // the stub's parameter name, without __ref
	st    string // the struct it points to
}

// releaseCandidate is one way to release a refArg: a kfunc call with its arguments.
type releaseCandidate struct {
	desc string // "bpf_kfree_skb(skb)"
	call bpfasm.ReleaseCall
}

// releaseEpilogue is what every probe program of a variant ends with (see the top of the file).
type releaseEpilogue struct {
	calls []bpfasm.ReleaseCall
	// desc names the calls for the variant's facts: "bpf_kfree_skb(skb)".
	desc string
	// trivial is the variant's trivial program with the epilogue.
	trivial []byte
	mu      sync.Mutex
	wrapped map[string][]byte // by the probe program without it
}

// pointee returns the name of the struct t points to, if t is a pointer to a struct.
func pointee(t btf.Type) (string, bool) {
	p, ok := btf.UnderlyingType(t).(*btf.Pointer)
	if !ok {
		return "", false
	}
	s, ok := btf.UnderlyingType(p.Target).(*btf.Struct)
	if !ok {
		return "", false
	}
	return s.Name, true
}

// memberRefArgs returns the arguments of kind's member that come in referenced, and the stub's
// parameters (for matching the release kfuncs' other parameters). A kernel without the stub
// FUNC has none the probe can name.
func memberRefArgs(k *kernelBTF, kind, member string) ([]refArg, []btf.FuncParam, error) {
	stub := kind + "__" + member
	_, fn, ok := typeID[*btf.Func](k, stub)
	if !ok {
		return nil, nil, fmt.Errorf("no stub %s in the kernel's BTF to tell which argument is referenced", stub)
	}
	proto, ok := fn.Type.(*btf.FuncProto)
	if !ok {
		return nil, nil, fmt.Errorf("stub %s has no prototype", stub)
	}
	args := refArgs(proto.Params)
	if len(args) == 0 {
		return nil, nil, fmt.Errorf("no parameter of stub %s is a referenced struct pointer (__ref)", stub)
	}
	return args, proto.Params, nil
}

// refArgs returns the parameters named *__ref that point to a struct.
func refArgs(params []btf.FuncParam) []refArg {
	var out []refArg
	for i, p := range params {
		name, ok := strings.CutSuffix(p.Name, "__ref")
		st, isStruct := pointee(p.Type)
		if ok && isStruct {
			out = append(out, refArg{index: i, name: name, st: st})
		}
	}
	return out
}

// releaseCandidates returns the calls that may release arg, in the order to try them: kfuncs
// named for releasing whose first parameter points to arg's struct and whose other parameters
// each point to the struct of another of the member's arguments (params), passed that argument;
// fewer parameters first, then by name. ids are the kfuncs' BTF ids (the call's imm).
func releaseCandidates(arg refArg, params []btf.FuncParam, kfuncs []*btf.Func, ids []btf.TypeID) []releaseCandidate {
	type cand struct {
		releaseCandidate
		n int
	}
	var out []cand
	for i, fn := range kfuncs {
		proto, ok := fn.Type.(*btf.FuncProto)
		if !ok || len(proto.Params) == 0 || !slices.ContainsFunc(releaseWords, func(w string) bool { return strings.Contains(fn.Name, w) }) {
			continue
		}
		if st, ok := pointee(proto.Params[0].Type); !ok || st != arg.st {
			continue
		}
		offs, names := []int16{int16(8 * arg.index)}, []string{arg.name}
		for _, kp := range proto.Params[1:] {
			j := matchingArg(kp, arg.index, params)
			if j < 0 {
				break
			}
			offs, names = append(offs, int16(8*j)), append(names, strings.TrimSuffix(params[j].Name, "__ref"))
		}
		if len(offs) != len(proto.Params) {
			continue // a parameter no argument of the member can fill
		}
		out = append(out, cand{releaseCandidate{
			desc: fn.Name + "(" + strings.Join(names, ", ") + ")",
			call: bpfasm.ReleaseCall{Call: bpfasm.KfuncCall(uint32(ids[i])), CtxArgs: offs},
		}, len(offs)})
	}
	slices.SortStableFunc(out, func(a, b cand) int {
		return cmp.Or(cmp.Compare(a.n, b.n), strings.Compare(a.desc, b.desc))
	})
	cands := make([]releaseCandidate, len(out))
	for i, c := range out {
		cands[i] = c.releaseCandidate
	}
	return cands
}

// matchingArg returns the index of the member's first argument other than skip that points to
// the struct kfunc parameter kp points to, or -1.
func matchingArg(kp btf.FuncParam, skip int, params []btf.FuncParam) int {
	want, ok := pointee(kp.Type)
	if !ok {
		return -1
	}
	for j, p := range params {
		if st, ok := pointee(p.Type); ok && j != skip && st == want {
			return j
		}
	}
	return -1
}

// vmlinuxKfuncs returns vmlinux's tagged kfuncs and their ids, read once: only a member with a
// referenced argument needs them, before the kfunc pass reads them for itself.
func (k *kernelBTF) vmlinuxKfuncs() ([]*btf.Func, []btf.TypeID) {
	k.kfuncsOnce.Do(func() {
		if k.raw == nil {
			return
		}
		scan, err := scanBTF(k.raw, 1, nil)
		if err != nil {
			return
		}
		for _, id := range scan.tagged {
			if fn, ok := funcByID(k.spec, id); ok {
				k.kfuncs, k.kfuncIDs = append(k.kfuncs, fn), append(k.kfuncIDs, id)
			}
		}
	})
	return k.kfuncs, k.kfuncIDs
}

// learnRelease is called with a member variant's refused trivial program at candidate c. When
// the refusal is a reference the member handed the program, it finds the release epilogue the
// kernel loads the trivial program with, trying at most maxReleaseTries. It returns the
// epilogue and that load's result, or nil, the refusal and why no epilogue was found ("" when
// the refusal is of another kind).
func (v *variant) learnRelease(k *kernelBTF, l *loader, c candidate, trivial []byte, refused loadResult) (*releaseEpilogue, loadResult, string) {
	s := v.spec
	if k == nil || s.kind == "" || s.member == "" || !entryReference(refused.log) {
		return nil, refused, ""
	}
	args, params, err := memberRefArgs(k, s.kind, s.member)
	if err != nil {
		return nil, refused, err.Error()
	}
	kfuncs, ids := k.vmlinuxKfuncs()
	var perArg [][]releaseCandidate
	for _, a := range args {
		cands := releaseCandidates(a, params, kfuncs, ids)
		if len(cands) == 0 {
			return nil, refused, fmt.Sprintf("no kfunc named for releasing takes argument %s (struct %s)", a.name, a.st)
		}
		perArg = append(perArg, cands)
	}
	var tried []string
	for _, combo := range releaseCombos(perArg, maxReleaseTries) {
		e := newReleaseEpilogue(combo)
		b, err := e.wrap(trivial)
		if err != nil {
			return nil, refused, err.Error()
		}
		res := l.load(&c.prog, b, true)
		if res.errno == 0 {
			e.trivial = b
			return e, res, ""
		}
		tried = append(tried, e.desc)
	}
	return nil, refused, "no release loads: tried " + strings.Join(tried, "; ")
}

// entryReference reports whether log is the verifier's refusal of a program that exits still
// holding a reference it was given at entry: acquired at instruction 0 in a program whose first
// instruction acquires nothing (the trivial program's is r0 = ret).
func entryReference(log string) bool {
	insn, ok := verifierlog.UnreleasedReference(log)
	return ok && insn == 0
}

// releaseCombos returns up to n ways to release every referenced argument: one candidate per
// argument, the earlier arguments' choices varying slowest.
func releaseCombos(perArg [][]releaseCandidate, n int) [][]releaseCandidate {
	out := [][]releaseCandidate{nil}
	for _, cands := range perArg {
		var next [][]releaseCandidate
		for _, prefix := range out {
			for _, c := range cands {
				if len(next) < n {
					next = append(next, append(slices.Clone(prefix), c))
				}
			}
		}
		out = next
	}
	return out
}

func newReleaseEpilogue(combo []releaseCandidate) *releaseEpilogue {
	e := &releaseEpilogue{wrapped: map[string][]byte{}}
	var descs []string
	for _, c := range combo {
		e.calls = append(e.calls, c.call)
		descs = append(descs, c.desc)
	}
	e.desc = strings.Join(descs, "; ")
	return e
}

// wrap returns probe program b (marshalled) with the epilogue, made once per program.
func (e *releaseEpilogue) wrap(b []byte) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if w, ok := e.wrapped[string(b)]; ok {
		return w, nil
	}
	w, err := bpfasm.ReleasingMarshalled(b, e.calls)
	if err != nil {
		return nil, err
	}
	e.wrapped[string(b)] = w
	return w, nil
}

// program returns the probe program to load in v for b, a program of the probe's shape
// (ProbeProgramReturning, KfuncProbeProgram): b itself, or b with v's release epilogue.
// asm.Releasing refuses only programs of another shape (asm's tests hold every probe program to
// it), so the fallback to b, which the kernel would refuse as leaking the reference, is never
// taken.
func (v *variant) program(b []byte) []byte {
	if v.release == nil {
		return b
	}
	w, err := v.release.wrap(b)
	if err != nil {
		return b
	}
	return w
}
