// Package verifierlog owns the BPF verifier's words: the layout of a level-1 verifier log
// (instruction trace, register state, statistics, the explanation block 7.3 appends) and the
// grammar of the messages kernels 5.10 to 7.3 print about a probe's call, each message with what
// it means to the four readers of a log: the helper classifier, the kfunc classifier, the
// argument pass and the cause of a user's refused program (bpfmatrix load).
//
// The package reads text only. What an errno means, and how an outcome is reported, stays with
// the probe that made the load.
package verifierlog

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	// traceRE are the lines of a log that are trace or statistics, not messages:
	// "5: (85) call bpf_probe_read#4", "0: R1=ctx() R10=fp0", "from 4 to 6: ...",
	// "processed 6 insns ...", "; source line".
	traceRE = regexp.MustCompile(`^(\d+: |from \d+ to \d+: |processed \d+ insns |; |func#\d+ @\d+$|last_idx |regs=|parent |mark_precise: |\s*$)`)
	// insnRE is an instruction line of the trace: a refusal follows the last one.
	insnRE = regexp.MustCompile(`^\d+: \([0-9a-f]{2}\) `)
	// stateRE are lines of register state the verifier prints around subprogram calls and
	// callbacks at log level 1.
	stateRE = regexp.MustCompile(`^(caller:|callee:|returning from callee:|to caller at \d+:|frame\d+: |\s)`)
)

// explanation reports whether line opens the block 7.3 appends after the message that decided
// the load ("Verification failed: Policy: ..."): its prose and the instructions it quotes are
// no messages, and the trace ends before it.
func explanation(line string) bool {
	return strings.HasPrefix(line, "Verification failed:")
}

// FirstMessage returns the first line of log that is a message rather than trace, trimmed, or
// "" when the log has none before 7.3's explanation block.
func FirstMessage(log string) string {
	for _, line := range strings.Split(log, "\n") {
		if explanation(line) {
			break
		}
		if !traceRE.MatchString(line) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// BeforeVerification reports whether log shows a load the verifier refused before it walked a
// single instruction ("processed 0 insns"): a bad attach target, a license the type refuses, a
// flag the kernel lacks.
func BeforeVerification(log string) bool {
	n, ok := Processed(log)
	return ok && n == 0
}

// processedRE is the statistics line the verifier ends every log with, at every log level:
// how many instructions it walked, the refused one included.
var processedRE = regexp.MustCompile(`(?m)^processed (\d+) insns `)

// Processed returns the number of instructions the log's statistics line says the verifier
// walked, and false when the log has no statistics line.
func Processed(log string) (int, bool) {
	m := processedRE.FindStringSubmatch(log)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// isInsn reports whether line is an instruction of the trace. The first byte decides most
// lines without the regular expression: a log of messages alone has no line starting with a
// digit, and the classifiers read tens of thousands of logs on an emulated CPU.
func isInsn(line string) bool {
	return line != "" && line[0] >= '0' && line[0] <= '9' && insnRE.MatchString(line)
}

// LastInsn is the index of the last instruction the log's trace shows, -1 when none.
func LastInsn(log string) int {
	last := -1
	for line := range strings.Lines(log) {
		if explanation(line) {
			break // the explanation quotes instructions in another format
		}
		if isInsn(line) {
			var n int
			fmt.Sscanf(line, "%d:", &n)
			last = n
		}
	}
	return last
}

// complaintLines returns the messages after the last instruction of the trace, up to the
// statistics or 7.3's explanation block: the refusal and whatever it printed with it.
func complaintLines(log string) []string {
	lines := strings.Split(log, "\n")
	start := 0
	for i, line := range lines {
		if isInsn(line) {
			start = i + 1
		}
	}
	var out []string
	for _, line := range lines[start:] {
		if explanation(line) {
			break
		}
		// A log of messages alone has no trace to start after, and keeps the notes the
		// verifier prints before walking (a full log has them before its first instruction).
		if traceRE.MatchString(line) || stateRE.MatchString(line) || noteRE.MatchString(line) {
			continue
		}
		out = append(out, strings.TrimSpace(line))
	}
	return out
}

// noteRE is a note the verifier prints while it reads the BTF of a program's main function
// ("arg#0 reference type('UNKNOWN ') size cannot be determined: -22" for a void *ctx): it
// precedes the trace and never decides a load.
var noteRE = regexp.MustCompile(`^arg#\d+ reference type\('[^']*'\) size cannot be determined`)

// Refusal returns the line of a refused program's log that decided it and the Loads row that
// reads it: the first of the messages after the trace's last instruction (the whole log when
// the verifier refused before walking one) that a row matches, else the first of them with a
// nil row; "" when the log has no message. Notes the verifier prints before the trace are
// skipped.
func Refusal(log string) (*Row, string) {
	lines := slices.DeleteFunc(complaintLines(log), func(line string) bool { return line == "" || noteRE.MatchString(line) })
	for _, line := range lines {
		if r := Loads.Match(line); r != nil {
			return r, line
		}
	}
	if len(lines) > 0 {
		return nil, lines[0]
	}
	return nil, ""
}
