package verifierlog

import (
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// Row is one message of the verifier's grammar: its pattern, what it means to each reader of a
// log, and which kernels say it.
type Row struct {
	// Name is the row's short name, for tests and failures.
	Name string
	// Pattern matches the message at the start of a log line. Verifier messages start at
	// column 0; the explanation block 7.3 appends is indented or starts with a heading, so
	// anchoring keeps its prose from matching.
	Pattern string
	// Since and Until are the first and last kernels (of 5.10 ... 7.3) whose golden logs
	// (probe/testdata/verifier-logs) show the message; both "" when none does yet.
	Since, Until string
	// Source says where in the kernel a message no golden log shows yet is printed ("" when
	// golden logs show it). Such a row is kept so that a kernel saying it is not reported as
	// unclassified; TestGrammarGolden (package probe) asks for Since and Until instead as
	// soon as a golden log shows it.
	Source string
	// Helper is what the message decides for a helper probe; "" when the helper classifier
	// does not read it.
	Helper observation.Outcome
	// Kfunc is what the message decides for a kfunc probe; "" when the kfunc classifier does
	// not read it. Flag is the kfunc's flag (KF_ACQUIRE, ...) the message shows, "" for none.
	Kfunc observation.Outcome
	Flag  string
	// Cause is what the message means when a user's whole program was refused (bpfmatrix
	// load): the first line of its log a row with a Cause matches names the cause; "" when the
	// load reader does not read the message.
	Cause observation.Cause
	// Arg is how the argument pass reads the message; nil when it does not.
	Arg *Reading
	// Shape marks a row that matches a family of messages by their form (a line that starts
	// with a register, one that names "arg#N") rather than one message word for word: the
	// argument pass reads by shape the complaints it does not know word for word.
	Shape bool

	re *regexp.Regexp
	// prefix is the literal start of every line re matches: a cheap test that spares the
	// regular expression most of a log's lines (in a TCG guest user-space time counts).
	prefix string
}

// Match reports whether the row's pattern matches line.
func (r *Row) Match(line string) bool {
	return strings.HasPrefix(line, r.prefix) && r.re.MatchString(line)
}

// Reading says how the argument pass reads a message: which kind of complaint it is, and which
// submatches of the row's pattern hold the register, what it held and what was wanted. A
// submatch index of 0 means the message does not say.
type Reading struct {
	Kind Kind
	// Reg holds the number of the register the message is about ("R2 ...", "arg 1 ...").
	Reg int
	// Index holds an argument counted from 0 ("arg#0", "as arg #0"): register Index+1.
	Index int
	// Got and Expected hold what the register held and what was wanted; List marks an
	// Expected that is a list ("fp, pkt, map_value").
	Got, Expected int
	List          bool
	// MapType holds the map type refused.
	MapType int
	// FixedReg is the register a message is always about without naming it, and Wants what it
	// must hold then.
	FixedReg int
	Wants    string
	// RegAnywhere takes the register from the first "R<n>" anywhere in the line, when there
	// is one.
	RegAnywhere bool
}

// Reader is one reader of the log: the rows that mean something to it, in the grammar's order.
// The first of them that matches a line decides what the line says.
type Reader struct {
	rows []*Row
}

var (
	// Helpers reads the log of a helper probe: the rows with a Helper outcome.
	Helpers = reader(func(r *Row) bool { return r.Helper != "" })
	// Kfuncs reads the log of a kfunc probe: the rows with a Kfunc outcome.
	Kfuncs = reader(func(r *Row) bool { return r.Kfunc != "" })
	// Loads reads the log of a user's program that a kernel refused: the rows with a Cause.
	Loads = reader(func(r *Row) bool { return r.Cause != "" })
	// args reads an argument probe's complaint: the rows with a Reading.
	args = reader(func(r *Row) bool { return r.Arg != nil })
)

func reader(reads func(*Row) bool) *Reader {
	rd := &Reader{}
	for i := range grammar {
		if reads(&grammar[i]) {
			rd.rows = append(rd.rows, &grammar[i])
		}
	}
	return rd
}

// Match returns the reader's first row that matches line, nil when none does.
func (rd *Reader) Match(line string) *Row {
	for _, r := range rd.rows {
		if r.Match(line) {
			return r
		}
	}
	return nil
}

// Scan yields every line of log that one of the reader's rows matches, with that row, first
// line first, trailing blanks trimmed. It reads the whole log, not its tail: 7.3 appends its
// explanation after the message that matters, and that block is indented, so no row matches
// its prose.
func (rd *Reader) Scan(log string) iter.Seq2[*Row, string] {
	return func(yield func(*Row, string) bool) {
		for line := range strings.Lines(log) {
			line = strings.TrimRight(line, " \t\r\n")
			if r := rd.Match(line); r != nil && !yield(r, line) {
				return
			}
		}
	}
}

// First returns the first line of log the reader's rows match, and the row; nil and "" when
// none does.
func (rd *Reader) First(log string) (*Row, string) {
	for r, line := range rd.Scan(log) {
		return r, line
	}
	return nil, ""
}

// Rows returns the grammar's rows, in the order the readers try them.
func Rows() []*Row {
	out := make([]*Row, len(grammar))
	for i := range grammar {
		out[i] = &grammar[i]
	}
	return out
}

// compile checks and compiles the grammar's rows once, at start-up: a bad row is a bug of this
// package, not of the log it reads.
func compile(rows []Row) []Row {
	names := map[string]bool{}
	for i := range rows {
		r := &rows[i]
		if names[r.Name] {
			panic(fmt.Sprintf("verifierlog: row %q twice", r.Name))
		}
		names[r.Name] = true
		if (r.Since == "") == (r.Source == "") || (r.Since == "") != (r.Until == "") {
			panic(fmt.Sprintf("verifierlog: row %q needs either the kernels that say it or its source", r.Name))
		}
		r.re = regexp.MustCompile(r.Pattern)
		if rest, ok := strings.CutPrefix(r.Pattern, "^"); ok {
			r.prefix, _ = regexp.MustCompile(rest).LiteralPrefix()
		}
	}
	if slices.ContainsFunc(rows, func(r Row) bool { return r.Helper == "" && r.Kfunc == "" && r.Arg == nil && r.Cause == "" }) {
		panic("verifierlog: a row no reader reads")
	}
	return rows
}
