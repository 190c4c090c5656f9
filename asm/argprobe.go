package asm

import (
	"errors"
	"fmt"
	"math"

	ebpfasm "github.com/cilium/ebpf/asm"
)

// ArgStackBytes is the size of the zeroed stack buffer an argument probe sets up below the frame
// pointer; ArgStack points at its start.
const ArgStackBytes = 128

// dynptrBytes is the size of a struct bpf_dynptr; an argument probe keeps its dynptrs below the
// zeroed buffer, where no other argument's memory overlaps them.
const dynptrBytes = 16

// pseudoBTFID is BPF_PSEUDO_BTF_ID, the src_reg of a 64-bit load of a kernel variable's address
// by its BTF id; cilium/ebpf's asm has no name for it.
const pseudoBTFID = ebpfasm.Register(3)

// Labels an argument probe uses for itself. ArgProbeCallback marks the first instruction of the
// callback subprogram, which BTF func info must describe.
const (
	argProbeOut      = "argprobe_out"
	ArgProbeCallback = "argprobe_callback"
)

// ErrArgValue is returned (wrapped) by ArgProbeProgram for an argument it cannot build.
var ErrArgValue = errors.New("unusable argument value")

type argValueKind int

const (
	argScalar argValueKind = iota
	argContext
	argStack
	argMapPtr
	argMapValue
	argSubprog
	argKernelVar
	argHelperResult
	argContextField
	argDynptr
)

// ArgValue is what an argument probe puts in one argument register. Build it with the Arg*
// functions; the zero value is the scalar 0.
type ArgValue struct {
	kind  argValueKind
	imm   int64
	fd    int
	off   uint32
	path  []int16
	id    int
	inner []ArgValue
}

// ArgScalar is the constant v.
func ArgScalar(v int64) ArgValue { return ArgValue{kind: argScalar, imm: v} }

// ArgContext is the program's context pointer, saved from r1 at entry.
func ArgContext() ArgValue { return ArgValue{kind: argContext} }

// ArgStack points at ArgStackBytes zeroed bytes on the program's stack.
func ArgStack() ArgValue { return ArgValue{kind: argStack} }

// ArgMapPtr is the map whose file descriptor is fd (a 64-bit load the kernel turns into the map's
// address).
func ArgMapPtr(fd int) ArgValue { return ArgValue{kind: argMapPtr, fd: fd} }

// ArgMapValue points off bytes into the value of a single-element array map (fd): the way a
// program passes a read-only string the verifier must be able to read at load time.
func ArgMapValue(fd int, off uint32) ArgValue { return ArgValue{kind: argMapValue, fd: fd, off: off} }

// ArgSubprog points at a subprogram of the probe that returns 0, for callback arguments.
func ArgSubprog() ArgValue { return ArgValue{kind: argSubprog} }

// ArgKernelVar is the address of the kernel variable with BTF id btfID in vmlinux (a per-CPU
// variable gives a per-CPU pointer).
func ArgKernelVar(btfID uint32) ArgValue { return ArgValue{kind: argKernelVar, id: int(btfID)} }

// ArgHelperResult is what helper id returns when called with args (which must be plain values,
// not results themselves). The probe skips its own call when the result is 0, so the value is
// known not to be NULL.
func ArgHelperResult(id int, args ...ArgValue) ArgValue {
	return ArgValue{kind: argHelperResult, id: id, inner: args}
}

// ArgContextField is the pointer reached from the program's context by loading the 64-bit field
// at each offset of path in turn: (168) is skb->sk of a __sk_buff, (0, 0) is ctx->meta->seq of
// an iterator. The probe skips its own call when any pointer on the way is 0.
func ArgContextField(path ...int16) ArgValue {
	return ArgValue{kind: argContextField, path: path}
}

// ArgDynptr points at a struct bpf_dynptr on the stack that helper id (bpf_dynptr_from_mem,
// bpf_ringbuf_reserve_dynptr) initialised: the probe calls it with args (plain values) followed
// by the dynptr's address.
func ArgDynptr(id int, args ...ArgValue) ArgValue {
	return ArgValue{kind: argDynptr, id: id, inner: args}
}

// String names the value as the probe's records do.
func (a ArgValue) String() string {
	switch a.kind {
	case argContext:
		return "ctx"
	case argStack:
		return "stack"
	case argMapPtr:
		return fmt.Sprintf("map(fd %d)", a.fd)
	case argMapValue:
		return fmt.Sprintf("map_value(fd %d+%d)", a.fd, a.off)
	case argSubprog:
		return "func"
	case argKernelVar:
		return fmt.Sprintf("ksym(btf %d)", a.id)
	case argHelperResult:
		return fmt.Sprintf("result(#%d)", a.id)
	case argContextField:
		return fmt.Sprintf("ctx%v", a.path)
	case argDynptr:
		return fmt.Sprintf("dynptr(#%d)", a.id)
	}
	return fmt.Sprint(a.imm)
}

// needsPrelude reports whether the value is computed before the arguments are loaded.
func (a ArgValue) needsPrelude() bool {
	return a.kind == argHelperResult || a.kind == argContextField
}

// ArgProbeProgram returns a program that calls helper id with args in r1, r2, ... and returns
// ret:
//
//	r6 = r1                      ; the context
//	r0 = 0; *(u64 *)(r10 - 8*i) = r0  ; ArgStackBytes zeroed bytes
//	r7.. = helper results, context fields (each: if 0, skip the call)
//	r1..r5 = args; call id
//	out: r0 = ret; exit
//	callback: r0 = 0; exit       ; only when an argument points at it
//
// Registers past len(args) are set to 0, as in ProbeProgramReturning. At most three arguments
// may need a computed value (r7..r9 hold them).
func ArgProbeProgram(id int, ret int32, args []ArgValue) (ebpfasm.Instructions, error) {
	if len(args) > MaxArgs {
		return nil, fmt.Errorf("argument probe: %w: %d arguments", ErrTooManyArgs, len(args))
	}
	insns := argProbeEntry()
	pre, err := argProbePrelude(args)
	if err != nil {
		return nil, err
	}
	insns = append(insns, pre.insns...)
	loads, callback, err := pre.argLoads(args)
	if err != nil {
		return nil, err
	}
	insns = append(insns, loads...)
	insns = append(insns,
		callID(id),
		ebpfasm.Mov.Imm(ebpfasm.R0, ret).WithSymbol(argProbeOut),
		ebpfasm.Return(),
	)
	if pre.callback || callback {
		insns = append(insns,
			ebpfasm.Mov.Imm(ebpfasm.R0, 0).WithSymbol(ArgProbeCallback),
			ebpfasm.Return(),
		)
	}
	return insns, nil
}

// argProbeEntry saves the context in r6 and zeroes the ArgStackBytes an ArgStack argument
// points at, so the helper reads initialised memory.
func argProbeEntry() ebpfasm.Instructions {
	insns := ebpfasm.Instructions{
		ebpfasm.Mov.Reg(ebpfasm.R6, ebpfasm.R1),
		ebpfasm.Mov.Imm(ebpfasm.R0, 0),
	}
	for off := int16(8); off <= ArgStackBytes; off += 8 {
		insns = append(insns, ebpfasm.StoreMem(ebpfasm.R10, -off, ebpfasm.R0, ebpfasm.DWord))
	}
	return insns
}

// argPrelude is what an argument probe computes before it loads the argument registers: the
// argument registers r1..r5 are clobbered by the calls that compute values, so those values wait
// in r7..r9 and in stack dynptrs until the probed call.
type argPrelude struct {
	insns    ebpfasm.Instructions
	regs     [MaxArgs]ebpfasm.Register // where a computed argument waits
	dynptrAt [MaxArgs]int16            // the frame offset of a dynptr argument
	callback bool                      // a helper result's argument points at the callback
}

// argProbePrelude computes the helper results, context fields and dynptrs among args.
func argProbePrelude(args []ArgValue) (*argPrelude, error) {
	pre := &argPrelude{}
	saved := ebpfasm.R7
	dynptrs := 0
	for i, a := range args {
		if a.kind == argDynptr {
			dynptrs++
			pre.dynptrAt[i] = -int16(ArgStackBytes + dynptrs*dynptrBytes)
			insns, err := dynptrPrelude(a, pre.dynptrAt[i])
			if err != nil {
				return nil, err
			}
			pre.insns = append(pre.insns, insns...)
			continue
		}
		if !a.needsPrelude() {
			continue
		}
		if saved > ebpfasm.R9 {
			return nil, fmt.Errorf("argument probe: %w: more than three computed arguments", ErrArgValue)
		}
		insns, callback, err := computedPrelude(a, saved)
		if err != nil {
			return nil, err
		}
		pre.insns = append(pre.insns, insns...)
		pre.callback = pre.callback || callback
		pre.regs[i] = saved
		saved++
	}
	return pre, nil
}

// dynptrPrelude calls the helper that initialises dynptr argument a at frame offset at, with
// a's own arguments followed by the dynptr's address.
func dynptrPrelude(a ArgValue, at int16) (ebpfasm.Instructions, error) {
	if len(a.inner) >= MaxArgs {
		return nil, fmt.Errorf("argument probe: %w: helper #%d has no register left for the dynptr", ErrArgValue, a.id)
	}
	var insns ebpfasm.Instructions
	for j, in := range a.inner {
		if in.needsPrelude() || in.kind == argDynptr {
			return nil, fmt.Errorf("argument probe: %w: argument %d of helper #%d is itself computed", ErrArgValue, j+1, a.id)
		}
		load, err := argLoad(ebpfasm.R1+ebpfasm.Register(j), in)
		if err != nil {
			return nil, err
		}
		insns = append(insns, load...)
	}
	ptr := ebpfasm.R1 + ebpfasm.Register(len(a.inner))
	return append(insns,
		ebpfasm.Mov.Reg(ptr, ebpfasm.R10),
		ebpfasm.Add.Imm(ptr, int32(at)),
		callID(a.id),
	), nil
}

// computedPrelude computes helper result or context field a into saved, skipping the probed
// call when it is 0: the helper's NULL-checked argument must be known not to be NULL. It reports
// whether a's own arguments point at the callback.
func computedPrelude(a ArgValue, saved ebpfasm.Register) (ebpfasm.Instructions, bool, error) {
	var insns ebpfasm.Instructions
	callback := false
	switch a.kind {
	case argHelperResult:
		for j, in := range a.inner {
			if in.needsPrelude() {
				return nil, false, fmt.Errorf("argument probe: %w: argument %d of helper #%d is itself computed", ErrArgValue, j+1, a.id)
			}
			load, err := argLoad(ebpfasm.R1+ebpfasm.Register(j), in)
			if err != nil {
				return nil, false, err
			}
			insns = append(insns, load...)
			callback = callback || in.kind == argSubprog
		}
		insns = append(insns, callID(a.id))
	case argContextField:
		var err error
		if insns, err = contextFieldLoads(a.path); err != nil {
			return nil, false, err
		}
	}
	return append(insns,
		ebpfasm.JEq.Imm(ebpfasm.R0, 0, argProbeOut),
		ebpfasm.Mov.Reg(saved, ebpfasm.R0),
	), callback, nil
}

// contextFieldLoads follows path from the context into r0, skipping the probed call at any NULL
// pointer on the way, which the verifier would refuse to dereference.
func contextFieldLoads(path []int16) (ebpfasm.Instructions, error) {
	if len(path) == 0 {
		return nil, fmt.Errorf("argument probe: %w: empty context path", ErrArgValue)
	}
	var insns ebpfasm.Instructions
	from := ebpfasm.R6
	for _, off := range path[:len(path)-1] {
		insns = append(insns,
			ebpfasm.LoadMem(ebpfasm.R0, from, off, ebpfasm.DWord),
			ebpfasm.JEq.Imm(ebpfasm.R0, 0, argProbeOut),
		)
		from = ebpfasm.R0
	}
	return append(insns, ebpfasm.LoadMem(ebpfasm.R0, from, path[len(path)-1], ebpfasm.DWord)), nil
}

// argLoads puts every argument in its register r1..r5 (0 past len(args)), taking computed ones
// from where the prelude left them. It reports whether an argument points at the callback.
func (pre *argPrelude) argLoads(args []ArgValue) (ebpfasm.Instructions, bool, error) {
	var insns ebpfasm.Instructions
	callback := false
	for i := range MaxArgs {
		dst := ebpfasm.R1 + ebpfasm.Register(i)
		var a ArgValue
		if i < len(args) {
			a = args[i]
		}
		if a.needsPrelude() {
			insns = append(insns, ebpfasm.Mov.Reg(dst, pre.regs[i]))
			continue
		}
		if a.kind == argDynptr {
			insns = append(insns, ebpfasm.Mov.Reg(dst, ebpfasm.R10), ebpfasm.Add.Imm(dst, int32(pre.dynptrAt[i])))
			continue
		}
		load, err := argLoad(dst, a)
		if err != nil {
			return nil, false, fmt.Errorf("argument probe: argument %d: %w", i+1, err)
		}
		insns = append(insns, load...)
		callback = callback || a.kind == argSubprog
	}
	return insns, callback, nil
}

// argLoad returns the instructions that put a plain (not computed) value in dst.
func argLoad(dst ebpfasm.Register, a ArgValue) (ebpfasm.Instructions, error) {
	switch a.kind {
	case argScalar:
		if a.imm >= math.MinInt32 && a.imm <= math.MaxInt32 {
			return ebpfasm.Instructions{ebpfasm.Mov.Imm(dst, int32(a.imm))}, nil
		}
		return ebpfasm.Instructions{ebpfasm.LoadImm(dst, a.imm, ebpfasm.DWord)}, nil
	case argContext:
		return ebpfasm.Instructions{ebpfasm.Mov.Reg(dst, ebpfasm.R6)}, nil
	case argStack:
		return ebpfasm.Instructions{
			ebpfasm.Mov.Reg(dst, ebpfasm.R10),
			ebpfasm.Add.Imm(dst, -ArgStackBytes),
		}, nil
	case argMapPtr:
		if a.fd < 0 {
			return nil, fmt.Errorf("%w: map fd %d", ErrArgValue, a.fd)
		}
		return ebpfasm.Instructions{ebpfasm.LoadMapPtr(dst, a.fd)}, nil
	case argMapValue:
		if a.fd < 0 {
			return nil, fmt.Errorf("%w: map fd %d", ErrArgValue, a.fd)
		}
		return ebpfasm.Instructions{ebpfasm.LoadMapValue(dst, a.fd, a.off)}, nil
	case argSubprog:
		return ebpfasm.Instructions{ebpfasm.Instruction{
			OpCode: ebpfasm.LoadImmOp(ebpfasm.DWord), Dst: dst, Src: ebpfasm.PseudoFunc, Constant: -1,
		}.WithReference(ArgProbeCallback)}, nil
	case argKernelVar:
		return ebpfasm.Instructions{ebpfasm.Instruction{
			OpCode: ebpfasm.LoadImmOp(ebpfasm.DWord), Dst: dst, Src: pseudoBTFID, Constant: int64(uint32(a.id)),
		}}, nil
	}
	return nil, fmt.Errorf("%w: %s needs a prelude", ErrArgValue, a)
}
