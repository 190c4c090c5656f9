package probe

import (
	"fmt"
	"slices"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
	ebpfasm "github.com/cilium/ebpf/asm"
)

// This file holds how the argument pass learns about the registers a complete walk left at 0:
// whether the helper takes them at all, and what the verifier makes of them.

// helperGetPrandomU32 is bpf_get_prandom_u32, one of the kernel's base helpers, which every
// program type may call; like any call, it leaves r1..r5 without values.
const helperGetPrandomU32 = 7

// untouchedBudget bounds the loads probeUntouched spends on one walk: one to find each
// argument, one to ask its kind, and one to learn that no argument is left.
const untouchedBudget = 2*bpfasm.MaxArgs + 1

// Expected words of the argument pass's own, for what no complaint names: "any" is an argument
// the verifier checks nothing of but that it holds a value (the kernel's ARG_ANYTHING).
const expectAny = "any"

// probeUntouched asks, after a complete walk, which of the registers the walk left at 0 are
// arguments and what the verifier makes of each, records that in their slots, and returns the
// number of arguments: one past the last register that is one.
//
// The verifier reads an argument register before it checks anything else of it, and it reads
// no other register: left without a value, an argument is refused ("R3 !read_ok") and a
// register the helper ignores is not. An argument found so is then given a map pointer:
//   - refused with "expected=scalar": a number the verifier bounds (a size that may be 0):
//     "scalar";
//   - refused naming pointer kinds: a pointer that may be NULL, since the walk's 0 passed:
//     given "null";
//   - refused otherwise, naming that register or none: a number the verifier checks ("R1 is
//     not a scalar"), or whose value it checks after the arguments (a flags word that must be
//     0): "scalar";
//   - accepted: the verifier takes any value there (it lets root pass pointers as numbers):
//     "any".
func (a *argWalk) probeUntouched() int {
	n := 0
	var rest []int // untouched registers (0-based) not yet known to be arguments or not
	for i, s := range a.slots {
		if s.given != "" {
			n = i + 1
		} else {
			rest = append(rest, i)
		}
	}
	fd, err := a.maps.fd(mapHash)
	if len(rest) == 0 || err != nil {
		return n
	}
	if rest[0] == 0 && !a.offers(a.v, helperGetPrandomU32) {
		rest = rest[1:] // r1 holds the context unless a call clobbers it
	}
	arg := -1 // an argument found, whose kind is still to be asked
	for range untouchedBudget {
		if arg < 0 && len(rest) == 0 {
			return n
		}
		c, accepted, ok := a.askUntouched(arg, rest, fd)
		switch {
		case !ok:
			return n // an answer the pass does not expect: stop asking
		case accepted:
			if arg >= 0 {
				a.slots[arg].expected, a.slots[arg].given = []string{expectAny}, "scalar"
			}
			return n
		case c.Kind == verifierlog.UnsetArg && slices.Contains(rest, c.Reg-1):
			if arg >= 0 {
				a.slots[arg].expected, a.slots[arg].given = []string{expectAny}, "scalar"
			}
			arg = c.Reg - 1
			n = max(n, c.Reg)
			rest = rest[slices.Index(rest, arg)+1:]
		case arg >= 0 && c.Kind == verifierlog.WrongType && c.Reg == arg+1:
			given := "null"
			if slices.Equal(c.Expected, []string{"scalar"}) || slices.Equal(c.Expected, []string{"inv"}) {
				given = "scalar"
			}
			a.slots[arg].expected, a.slots[arg].given = c.Expected, given
			arg = -1
		case arg >= 0 && c.Kind != verifierlog.UnsetArg && (c.Reg == arg+1 || c.Reg == 0):
			// Refused for the one change from a program it took, naming that register
			// ("R1 is not a scalar", 7.2's bpf_set_retval) or none, after the argument
			// checks ("get_local_storage() doesn't support non-zero flags"): a number.
			a.slots[arg].expected, a.slots[arg].given = []string{"scalar"}, "scalar"
			arg = -1
		default:
			return n
		}
	}
	return n
}

// askUntouched loads the walk's program with the registers of rest left without a value and,
// when arg is one, a map pointer in register arg. It returns the complaint, or accepted when
// the verifier went past the call; ok is false for a load refused before the call.
func (a *argWalk) askUntouched(arg int, rest []int, fd int) (c verifierlog.Complaint, accepted, ok bool) {
	for _, i := range rest {
		a.slots[i].unset = true
	}
	if arg >= 0 {
		a.slots[arg].value = bpfasm.ArgMapPtr(fd)
	}
	res, callAt, at, err := a.load()
	for _, i := range rest {
		a.slots[i].unset = false
	}
	if arg >= 0 {
		a.slots[arg].value = bpfasm.ArgValue{}
	}
	switch {
	case err != nil:
		return c, false, false
	case res.errno == 0, at > callAt:
		return c, true, true
	case at < callAt:
		return c, false, false
	}
	return verifierlog.ParseComplaint(res.log), false, true
}

// unsetArgs returns insns, an argument probe, with the argument registers regs (1..5) holding no
// value at the probed call. ArgProbeProgram puts 0 in each argument register it was given
// nothing else for, last before the call; unsetArgs drops those instructions. r1 holds the
// context on entry: when regs has it, a call to bpf_get_prandom_u32 right after the entry saves
// the context clears it.
func unsetArgs(insns ebpfasm.Instructions, regs []int) (ebpfasm.Instructions, error) {
	call := slices.IndexFunc(insns, func(ins ebpfasm.Instruction) bool { return ins.Symbol() == "argprobe_out" }) - 1
	if call < 0 || !insns[call].IsBuiltinCall() {
		return nil, fmt.Errorf("argument probe: %w: no probed call to leave registers unset for", bpfasm.ErrArgValue)
	}
	zero := ebpfasm.Mov.Imm(ebpfasm.R1, 0).OpCode
	drop := map[int]bool{}
	for _, r := range regs {
		dst := ebpfasm.R1 + ebpfasm.Register(r-1)
		i := call - 1
		for i >= 0 && insns[i].Dst != dst && !insns[i].IsBuiltinCall() {
			i--
		}
		if i < 0 || insns[i].Dst != dst || insns[i].OpCode != zero || insns[i].Constant != 0 || insns[i].Symbol() != "" {
			return nil, fmt.Errorf("argument probe: %w: r%d is not set to 0 for the call", bpfasm.ErrArgValue, r)
		}
		drop[i] = true
	}
	out := make(ebpfasm.Instructions, 0, len(insns)+1)
	for i, ins := range insns {
		if drop[i] {
			continue
		}
		out = append(out, ins)
		if i == 0 && slices.Contains(regs, 1) {
			if ins.OpCode != ebpfasm.Mov.Reg(ebpfasm.R6, ebpfasm.R1).OpCode || ins.Dst != ebpfasm.R6 || ins.Src != ebpfasm.R1 {
				return nil, fmt.Errorf("argument probe: %w: the program does not start by saving the context", bpfasm.ErrArgValue)
			}
			out = append(out, ebpfasm.BuiltinFunc(helperGetPrandomU32).Call())
		}
	}
	return out, nil
}
