package section

import (
	"fmt"
	"strings"
)

// TargetKind says what a section's attach target names.
type TargetKind uint8

// The kinds of attach target, after the libbpf sections that take them.
const (
	None                TargetKind = iota // the section takes no target
	KernelSymbol                          // kprobe, kretprobe: SYMBOL or SYMBOL+OFFSET
	KernelSymbolPattern                   // kprobe.multi, kprobe.session, fentry.multi...: a glob over kernel functions
	Syscall                               // ksyscall, kretsyscall: a system call name
	UserProbe                             // uprobe and its variants: PATH:FUNCTION[+OFFSET] or a pattern
	USDT                                  // usdt: PATH:PROVIDER:NAME
	Tracepoint                            // tracepoint, tp: CATEGORY/NAME
	RawTracepoint                         // raw_tp, raw_tracepoint: NAME
	BTFTracepoint                         // tp_btf: NAME, the kernel's typedef btf_trace_NAME
	KernelFunc                            // fentry, fexit, fmod_ret, fsession: [MODULE:]FUNCTION in BTF
	ProgramFunc                           // freplace: a global function of another BPF program
	LSMHook                               // lsm, lsm.s, lsm_cgroup: HOOK, the kernel's bpf_lsm_HOOK
	Iterator                              // iter, iter.s: NAME, the kernel's bpf_iter_NAME
	StructOpsMember                       // struct_ops: KIND.MEMBER, or a program name
)

var targetKindNames = [...]string{
	None: "none", KernelSymbol: "kernel symbol", KernelSymbolPattern: "kernel function pattern",
	Syscall: "system call", UserProbe: "user probe", USDT: "USDT probe", Tracepoint: "tracepoint",
	RawTracepoint: "raw tracepoint", BTFTracepoint: "BTF tracepoint", KernelFunc: "kernel function",
	ProgramFunc: "BPF program function", LSMHook: "LSM hook", Iterator: "iterator",
	StructOpsMember: "struct_ops member",
}

// String names the kind in words, for messages.
func (k TargetKind) String() string {
	if int(k) < len(targetKindNames) {
		return targetKindNames[k]
	}
	return fmt.Sprintf("TargetKind(%d)", uint8(k))
}

// readTarget checks s.Target against what its kind allows and fills Module, Kind and Member.
func (s *Section) readTarget() error {
	t := s.Target
	bad := func(format string, args ...any) error {
		return &Error{Name: s.Name, Reason: fmt.Sprintf("attach target %q: ", short(t)) + fmt.Sprintf(format, args...)}
	}
	switch {
	case s.TargetKind == None:
		return &Error{Name: s.Name, Reason: fmt.Sprintf("%q takes no attach target", s.Prefix)}
	case t == "":
		return &Error{Name: s.Name, Reason: fmt.Sprintf("empty attach target after %q", s.Prefix+"/")}
	case strings.ContainsFunc(t, isControl):
		return bad("holds a control character")
	}
	switch s.TargetKind {
	case KernelSymbol:
		return s.readKernelSymbol(bad)
	case KernelSymbolPattern:
		if strings.Trim(t, symbolChars+"*?:") != "" {
			return bad("a kernel function pattern holds letters, digits, '_', '.', ':' and the wildcards '*' and '?'")
		}
	case Tracepoint:
		cat, ev, ok := strings.Cut(t, "/")
		if !ok || !isWord(cat) || !isWord(ev) {
			return bad("a tracepoint is CATEGORY/NAME, each of letters, digits and '_'")
		}
	case RawTracepoint:
		if !isWord(t) {
			return bad("a raw tracepoint name holds letters, digits and '_'")
		}
	case KernelFunc:
		return s.readKernelFunc(bad)
	case Syscall, BTFTracepoint, ProgramFunc, LSMHook, Iterator:
		if !isIdent(t) {
			return bad("%s names are C identifiers", s.TargetKind)
		}
	case StructOpsMember:
		return s.readStructOps(bad)
	}
	return nil // UserProbe, USDT: paths and probe names libbpf reads at attach time
}

// readKernelSymbol reads SYMBOL[+OFFSET], as libbpf reads kprobe targets; a kretprobe takes no
// offset.
func (s *Section) readKernelSymbol(bad func(string, ...any) error) error {
	sym, off, hasOff := strings.Cut(s.Target, "+")
	if sym == "" || strings.Trim(sym, symbolChars) != "" {
		return bad("a kernel symbol holds letters, digits, '_' and '.'")
	}
	if !hasOff {
		return nil
	}
	if s.Prefix == "kretprobe" {
		return bad("a return probe takes no offset")
	}
	digits, base := off, "0123456789"
	if rest, ok := strings.CutPrefix(strings.ToLower(off), "0x"); ok {
		digits, base = rest, "0123456789abcdef"
	}
	if digits == "" || strings.Trim(strings.ToLower(digits), base) != "" {
		return bad("the offset after '+' is a non-negative number")
	}
	return nil
}

// readKernelFunc reads [MODULE:]FUNCTION; "vmlinux:" names the kernel itself. Module names
// are words, not identifiers: 8021q is one.
func (s *Section) readKernelFunc(bad func(string, ...any) error) error {
	mod, fn, hasMod := strings.Cut(s.Target, ":")
	if !hasMod {
		mod, fn = "", s.Target
	}
	if hasMod && !isWord(mod) || !isIdent(fn) {
		return bad("a kernel function is FUNCTION or MODULE:FUNCTION, C identifiers")
	}
	if mod == "vmlinux" {
		mod = ""
	}
	s.Module, s.Target = mod, fn
	return nil
}

// readStructOps reads KIND.MEMBER. Without a '.', the target is a program's own name, as in
// libbpf's SEC("struct_ops/bpf_cubic_cong_avoid"): C names hold no '.', so a dot can only
// separate a kind from its member.
func (s *Section) readStructOps(bad func(string, ...any) error) error {
	kind, member, ok := strings.Cut(s.Target, ".")
	if !ok {
		if !isIdent(s.Target) {
			return bad("a struct_ops program name is a C identifier")
		}
		return nil
	}
	if !isIdent(kind) || !isIdent(member) {
		return bad("struct_ops/KIND.MEMBER names a struct_ops kind and one of its members, C identifiers")
	}
	s.Kind, s.Member = kind, member
	return nil
}

const symbolChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_."

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// isIdent reports whether s is a C identifier.
func isIdent(s string) bool {
	return s != "" && !(s[0] >= '0' && s[0] <= '9') && isWord(s)
}

// isWord reports whether s is a non-empty run of letters, digits and '_'.
func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
