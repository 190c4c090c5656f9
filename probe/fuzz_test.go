package probe

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
)

// fuzzLogLimit is the largest log the fuzz target reads, far above any probe's log (a few KB),
// so the engine spends its time on text, not on size.
const fuzzLogLimit = 256 << 10

// FuzzClassify feeds any text, with any errno, to the three readers of a verifier log: the
// helper classifier, the kfunc classifier and the argument pass. Each must answer with one of
// observation's words and a detail no longer than the log plus an errno's name, never panic,
// and name unknown wording as unclassified, with the errno and the message.
func FuzzClassify(f *testing.F) {
	for _, g := range goldenLogs(f, "") {
		f.Add(uint16(g.errno), g.log)
	}
	f.Add(uint16(unix.EINVAL), "")
	f.Add(uint16(0), "anything")
	f.Fuzz(func(t *testing.T, errno uint16, log string) {
		if len(log) > fuzzLogLimit {
			t.Skip()
		}
		e := unix.Errno(errno)
		outcome, detail := Classify(e, log)
		checkClassified(t, e, log, outcome, detail)
		outcome, detail, flags := ClassifyKfunc(e, log)
		checkClassified(t, e, log, outcome, detail)
		if !slices.IsSorted(flags) || len(flags) > len(verifierlog.Rows()) {
			t.Fatalf("flags %v: not sorted, or more than the grammar has", flags)
		}
		c := verifierlog.ParseComplaint(log)
		if c.Reg < 0 || c.Reg > 5 || c.ArgNum < -1 || c.Kind.String() == "" || len(c.Line) > len(log) {
			t.Fatalf("complaint %+v out of range", c)
		}
		if c.Line != "" && !strings.Contains(log, c.Line) {
			t.Fatalf("complaint line %q is not in the log", c.Line)
		}
		if n := verifierlog.LastInsn(log); n < -1 {
			t.Fatalf("last instruction %d", n)
		}
	})
}

// checkClassified checks one classifier's answer to a fuzzed log.
func checkClassified(t *testing.T, errno unix.Errno, log string, outcome observation.Outcome, detail string) {
	t.Helper()
	switch {
	case !outcome.Valid():
		t.Fatalf("outcome %q is not one of observation's words", outcome)
	case detail == "":
		t.Fatalf("%s without a detail", outcome)
	case len(detail) > len(log)+len(errnoName(errno))+len(" before verification (empty log)"):
		t.Fatalf("detail of %d bytes for a log of %d", len(detail), len(log))
	case errno == 0 && (outcome != observation.Supported || detail != "loaded"):
		t.Fatalf("a load that succeeded: %s (%s)", outcome, detail)
	case outcome == observation.Unclassified && !strings.HasPrefix(detail, errnoName(errno)+": "):
		t.Fatalf("unclassified without its errno and message: %q", detail)
	}
}
