package probe

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
)

// enotsupp is the kernel-internal ENOTSUPP (524) that BPF_PROG_LOAD leaks to user space, e.g.
// when a program needs a trampoline or JIT feature the kernel lacks. It is not ENOTSUP (95).
const enotsupp = unix.Errno(524)

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

// Classify turns the result of one probe load into an outcome and the log line (or error) that
// decided it. errno is 0 when the program loaded. The first line of the log that a message of
// verifierlog.Helpers matches decides; the whole log is searched, not its tail: 7.3 appends a
// "Verification failed" block after the message that matters.
//
// A log no message matches is observation.Unclassified, never guessed; refusals before the
// verifier looked at the program (an empty log, "processed 0 insns", EPERM, E2BIG, ENOTSUPP)
// are observation.Inconclusive.
func Classify(errno unix.Errno, log string) (outcome observation.Outcome, detail string) {
	outcome, detail, _ = classify(errno, log)
	return outcome, detail
}

// classify is Classify, with the grammar's row that decided (nil when none did).
func classify(errno unix.Errno, log string) (observation.Outcome, string, *verifierlog.Row) {
	if errno == 0 {
		return observation.Supported, "loaded", nil
	}
	if row, line := verifierlog.Helpers.First(log); row != nil {
		return row.Helper, line, row
	}
	outcome, detail := unmatched(errno, log)
	return outcome, detail, nil
}

// unmatched classifies a refused load whose log no message of its reader matches: a refusal
// before verification is inconclusive, anything else is wording nobody knows yet.
func unmatched(errno unix.Errno, log string) (observation.Outcome, string) {
	msg := verifierlog.FirstMessage(log)
	switch {
	case msg == "":
		return observation.Inconclusive, errnoName(errno) + " before verification (empty log)"
	case verifierlog.BeforeVerification(log):
		return observation.Inconclusive, errnoName(errno) + " before verification: " + msg
	case errno == unix.EPERM || errno == unix.E2BIG || errno == enotsupp:
		return observation.Inconclusive, errnoName(errno) + ": " + msg
	}
	return observation.Unclassified, errnoName(errno) + ": " + msg
}

// ClassifyKfunc turns the result of one kfunc probe load (see asm.KfuncProbeProgram) into an
// outcome, the log line (or error) that decided it, and the kfunc's flags the log shows
// ("acquire", "sleepable", "trusted_args", ...), sorted. errno is 0 when the program loaded.
// The first line a message of verifierlog.Kfuncs matches decides the outcome; every matching
// line adds its flag. A log no message matches is classified as Classify would (refusals before
// verification are observation.Inconclusive) and is otherwise observation.Unclassified, never
// guessed.
func ClassifyKfunc(errno unix.Errno, log string) (outcome observation.Outcome, detail string, flags []string) {
	outcome, detail, flags, _ = classifyKfunc(errno, log)
	return outcome, detail, flags
}

// classifyKfunc is ClassifyKfunc, with the grammar's row that decided (nil when none did).
func classifyKfunc(errno unix.Errno, log string) (observation.Outcome, string, []string, *verifierlog.Row) {
	if errno == 0 {
		return observation.Supported, "loaded", nil, nil
	}
	var decided *verifierlog.Row
	var detail string
	var flags []string
	for row, line := range verifierlog.Kfuncs.Scan(log) {
		if decided == nil {
			decided, detail = row, line
		}
		if row.Flag != "" && !slices.Contains(flags, row.Flag) {
			flags = append(flags, row.Flag)
		}
	}
	slices.Sort(flags)
	if decided != nil {
		return decided.Kfunc, detail, flags, decided
	}
	if row, _ := verifierlog.Helpers.First(log); row != nil {
		// A helper's message in a kfunc probe's log is still wording nobody knows here.
		return observation.Unclassified, errnoName(errno) + ": " + verifierlog.FirstMessage(log), flags, nil
	}
	outcome, detail := unmatched(errno, log)
	return outcome, detail, flags, nil
}
