package probe

import (
	"fmt"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"
)

// enotsupp is the kernel-internal ENOTSUPP (524) that BPF_PROG_LOAD leaks to user space, e.g.
// when a program needs a trampoline or JIT feature the kernel lacks. It is not ENOTSUP (95).
const enotsupp = unix.Errno(524)

// rule maps one verifier message, matched at the start of a log line, to an outcome. Verifier
// messages start at column 0; the explanatory block 7.3 appends is indented or starts with a
// heading, so anchoring keeps its prose from matching.
type rule struct {
	outcome observation.Outcome
	// prefix is the literal start of every line re matches: a cheap test that spares the
	// regular expression most of the log's lines (the probe classifies a log per load, and in a
	// TCG guest user-space time counts).
	prefix string
	re     *regexp.Regexp
}

// rules are the verifier messages the classifier knows, from the logs in testdata/verifier-logs
// (Debian kernels 5.10 to 7.3 and the host's 6.18). They are tried on every line of the log,
// first line first, and the first line any rule matches decides.
var rules = []rule{
	// check_helper_call, in the order the verifier checks: id range, get_func_proto (type,
	// attach type and target), GPL, the helper's own allowed() callback, sleepability.
	{observation.UnknownID, "invalid func ", regexp.MustCompile(`^invalid func \S*#-?\d+$`)},
	{observation.NotForType, "unknown func ", regexp.MustCompile(`^unknown func \S+#\d+$`)},                                                     // 5.10, 6.1
	{observation.NotForType, "program of this type cannot use helper ", regexp.MustCompile(`^program of this type cannot use helper \S+#\d+$`)}, // 6.12 and later
	{observation.GPLOnly, "cannot call GPL-restricted function from non-GPL compatible program", regexp.MustCompile(`^cannot call GPL-restricted function from non-GPL compatible program$`)},
	{observation.NotForTarget, "helper call is not allowed in probe", regexp.MustCompile(`^helper call is not allowed in probe$`)},
	{observation.SleepableOnly, "helper call might sleep in a non-sleepable prog", regexp.MustCompile(`^helper call might sleep in a non-sleepable prog$`)}, // up to 7.0
	{observation.SleepableOnly, "sleepable helper ", regexp.MustCompile(`^sleepable helper \S+#\d+ in non-sleepable prog$`)},                                // 7.1 and later

	// Everything below is said only after the helper was accepted: argument checks and the
	// checks of the call's effects. The probe passes 0 in r1..r5, so a helper that takes a
	// pointer, a map or a dynptr complains about it.
	{observation.Supported, "R", regexp.MustCompile(`^R[0-9] type=\S+ expected=`)},
	{observation.Supported, "R", regexp.MustCompile(`^R[0-9] is not a scalar$`)},
}

// isTrace reports whether a log line is part of the instruction trace or the statistics, not a
// message: "5: (85) call bpf_probe_read#4", "0: R1=ctx() R10=fp0", "from 4 to 6: ...",
// "processed 6 insns ...", "; source line".
var traceRE = regexp.MustCompile(`^(\d+: |from \d+ to \d+: |processed \d+ insns |; |func#\d+ @\d+$|last_idx |regs=|parent |mark_precise: |\s*$)`)

// firstMessage returns the first line of log that is a message rather than trace, or "".
func firstMessage(log string) string {
	for _, line := range strings.Split(log, "\n") {
		if line == "Verification failed:" || strings.HasPrefix(line, "Verification failed: ") {
			break // 7.3's explanatory block follows the message it explains
		}
		if !traceRE.MatchString(line) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// errnoName returns the symbolic name of errno as the kernel headers spell it.
func errnoName(errno unix.Errno) string {
	if errno == enotsupp {
		return "ENOTSUPP"
	}
	if n := unix.ErrnoName(errno); n != "" {
		return n
	}
	return fmt.Sprintf("errno %d", int(errno))
}

// processed0 matches the statistics line of a load the verifier refused before it walked a single
// instruction: a bad attach target, a license the type refuses, a flag the kernel lacks.
var processed0 = regexp.MustCompile(`(?m)^processed 0 insns `)

// Classify turns the result of one probe load into an outcome and the log line (or error) that
// decided it. errno is 0 when the program loaded. The whole log is searched, not its tail:
// 7.3 appends a "Verification failed" block after the message that matters.
//
// A log no rule matches is observation.Unclassified, never guessed; refusals before the verifier looked at
// the program (an empty log, "processed 0 insns", EPERM, E2BIG, ENOTSUPP) are observation.Inconclusive.
func Classify(errno unix.Errno, log string) (outcome observation.Outcome, detail string) {
	if errno == 0 {
		return observation.Supported, "loaded"
	}
	for line := range strings.Lines(log) {
		line = strings.TrimRight(line, " \t\r\n")
		for _, r := range rules {
			if strings.HasPrefix(line, r.prefix) && r.re.MatchString(line) {
				return r.outcome, line
			}
		}
	}
	msg := firstMessage(log)
	switch {
	case msg == "":
		return observation.Inconclusive, errnoName(errno) + " before verification (empty log)"
	case processed0.MatchString(log):
		return observation.Inconclusive, errnoName(errno) + " before verification: " + msg
	case errno == unix.EPERM || errno == unix.E2BIG || errno == enotsupp:
		return observation.Inconclusive, errnoName(errno) + ": " + msg
	}
	return observation.Unclassified, errnoName(errno) + ": " + msg
}
