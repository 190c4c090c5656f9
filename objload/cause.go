package objload

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
)

// enotsupp is the kernel-internal ENOTSUPP (524) BPF_PROG_LOAD leaks to user space when it
// cannot build what a program type needs (a BPF trampoline for tracing, LSM, extension and
// struct_ops programs).
const enotsupp = unix.Errno(524)

// loaderWords are cilium/ebpf's words for a refusal it makes itself, before the kernel's
// verifier reads the program, and the cause each means. The first whose words the error holds
// decides.
var loaderWords = []struct {
	words string
	// is, when not nil, is an error the refusal must also wrap.
	is    error
	cause observation.Cause
}{
	{"apply CO-RE relocations", nil, observation.CauseCORERelocation},
	{"bad CO-RE relocation", nil, observation.CauseCORERelocation},
	// A kfunc the kernel's BTF lacks; one it has with another signature than the object's
	// declaration is the object's BTF not matching the kernel's.
	{"fixing up kfuncs", ebpf.ErrNotSupported, observation.CauseKfuncUnknown},
	{"fixing up kfuncs", nil, observation.CauseBTF},
	{"resolve .ksyms", nil, observation.CauseKfuncUnknown},
	{"attaching to ambiguous kernel symbol", nil, observation.CauseAttachTarget},
	{"find target", nil, observation.CauseAttachTarget},
	{"load BTF", nil, observation.CauseBTF},
	{"load kernel spec", nil, observation.CauseBTF},
	{"resolve .kconfig", nil, observation.CauseLoader},
}

// classifyPrepare is the cause of a refusal while the program's spec was prepared: the loader's.
func classifyPrepare(err error) (observation.Cause, string) {
	return observation.CauseLoader, err.Error()
}

// classifyMap is the cause of a map the kernel did not create: CauseMap, or CauseBTF when it was
// the map's BTF that was refused.
func classifyMap(err error) (observation.Cause, string) {
	if strings.Contains(err.Error(), "load BTF") {
		return observation.CauseBTF, err.Error()
	}
	return observation.CauseMap, err.Error()
}

// classifyProgram is the cause, reason and log tail of a program the kernel (or cilium/ebpf
// before it) refused. The verifier's log decides when one of verifierlog's Loads rows matches a
// line of it; then cilium/ebpf's words; then what the errno says of a load refused before
// verification. A refusal nothing explains is CauseUnknown with the first message of the log.
func classifyProgram(err error, ps *ebpf.ProgramSpec) (cause observation.Cause, reason, log string) {
	var ve *ebpf.VerifierError
	var line string
	if errors.As(err, &ve) {
		log = strings.Join(ve.Log, "\n")
		var row *verifierlog.Row
		if row, line = verifierlog.Refusal(log); row != nil {
			if row.Cause == observation.CauseCORERelocation {
				line = withRelocation(line, ps, verifierlog.LastInsn(log))
			}
			return row.Cause, line, tail(log)
		}
	}
	msg := strings.TrimPrefix(err.Error(), "program "+ps.Name+": ")
	for _, w := range loaderWords {
		if strings.Contains(msg, w.words) && (w.is == nil || errors.Is(err, w.is)) {
			return w.cause, "cilium/ebpf: " + msg, tail(log)
		}
	}
	if (errors.Is(err, btf.ErrNotFound) || errors.Is(err, ebpf.ErrNotSupported)) && strings.HasPrefix(msg, "attach ") {
		return observation.CauseAttachTarget, fmt.Sprintf("attach target %q not found in the kernel's BTF (cilium/ebpf: %s)", ps.AttachTo, msg), tail(log)
	}
	if c, r, ok := beforeVerification(err, line, ps); ok {
		return c, r, tail(log)
	}
	if line != "" {
		return observation.CauseUnknown, errnoWords(err) + line, tail(log)
	}
	return observation.CauseUnknown, "cilium/ebpf: " + msg, tail(log)
}

// beforeVerification reads a refusal the kernel gave before its verifier said a word (line, the
// log's deciding message, is ""): the kernel cannot load the program's type or attach type.
// We load as root, so EPERM there is the kernel's refusal (an LSM program where the BPF LSM is
// not active), not a missing capability.
func beforeVerification(err error, line string, ps *ebpf.ProgramSpec) (observation.Cause, string, bool) {
	if line != "" {
		return "", "", false
	}
	kind := ps.Type.String()
	if ps.AttachType != ebpf.AttachNone {
		kind += " (attach type " + ps.AttachType.String() + ")"
	}
	switch {
	case errors.Is(err, enotsupp) || errors.Is(err, unix.EOPNOTSUPP):
		return observation.CauseProgType, fmt.Sprintf("%sthe kernel cannot load %s programs here (no BPF trampoline or JIT support for them)", errnoWords(err), kind), true
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM):
		return observation.CauseProgType, fmt.Sprintf("%sthe kernel refused %s programs before verification, with an empty log", errnoWords(err), kind), true
	}
	return "", "", false
}

// errnoWords names the errno err holds, as "EINVAL: ", or "" when it holds none.
func errnoWords(err error) string {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return ""
	}
	if errno == enotsupp {
		return "ENOTSUPP: "
	}
	if n := unix.ErrnoName(errno); n != "" {
		return n + ": "
	}
	return fmt.Sprintf("errno %d: ", int(errno))
}

// tail is the end of a verifier log, at most logTail bytes, cut at a line start.
func tail(log string) string {
	if len(log) <= logTail {
		return log
	}
	t := log[len(log)-logTail:]
	if i := strings.IndexByte(t, '\n'); i >= 0 {
		t = t[i+1:]
	}
	return t
}

// withRelocation adds to the verifier's line about a poisoned instruction the CO-RE relocation
// that poisoned it: the line only shows cilium/ebpf's sentinel, while the user needs the type and
// field that the kernel's BTF lacks. insn is the instruction's offset in the program as the
// verifier counts (an offset outside the program's own instructions, in a subprogram linked
// after them, leaves line as it is).
func withRelocation(line string, ps *ebpf.ProgramSpec, insn int) string {
	if insn < 0 {
		return line
	}
	iter := ps.Instructions.Iterate()
	for iter.Next() {
		if int(iter.Offset) != insn {
			continue
		}
		if relo := btf.CORERelocationMetadata(iter.Ins); relo != nil {
			return line + " (instruction poisoned by cilium/ebpf: no match in the kernel's BTF for " + relo.String() + ")"
		}
		break
	}
	return line
}
