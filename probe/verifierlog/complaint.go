package verifierlog

import (
	"regexp"
	"strconv"
	"strings"
)

// Kind sorts what the verifier said about a helper call's arguments.
type Kind int

const (
	// NotAboutArg: the verifier went past the arguments (or never named one): a refusal of the
	// call's effects, the return value, an unreleased reference, or nothing it recognises.
	NotAboutArg Kind = iota
	// WrongType: "R1 type=scalar expected=map_ptr": the register holds the wrong kind of value.
	WrongType
	// BadSize: "R2 invalid zero-sized read", "R2 min value is negative...": a length argument
	// must be a positive bounded number.
	BadSize
	// PossiblyNull: "Possibly NULL pointer passed to helper arg2": the pointer may be NULL.
	PossiblyNull
	// WrongBTFType: "R1 is of type task_struct but sock is expected": a BTF pointer to the wrong
	// struct.
	WrongBTFType
	// WrongMapType: "cannot pass map_type 1 into func bpf_ringbuf_output#130": the map argument
	// is of the wrong type; the message names no register.
	WrongMapType
	// NeedsBTFField: "map 'x' has to have BTF in order to use bpf_timer": the map value given
	// must hold a field the map's BTF describes (a bpf_timer, a bpf_spin_lock, a kptr); Got
	// names the function that wants it.
	NeedsBTFField
	// OtherArg: any other complaint that names an argument register or argument ("R1 must be
	// referenced ...", "arg#0 expected pointer to stack ...", "invalid indirect read from stack
	// R2 ...", "invalid access to map value ...").
	OtherArg
	// UnsetArg: "R3 !read_ok": the register holds no value, and the helper takes it as an
	// argument (the verifier reads only the registers of a helper's arguments).
	UnsetArg
)

var kindNames = [...]string{"not-about-arg", "wrong-type", "bad-size", "possibly-null", "wrong-btf-type", "wrong-map-type", "needs-btf-field", "other-arg", "unset-arg"}

// String returns the kind's name, as tests and traces print it.
func (k Kind) String() string { return kindNames[k] }

// Complaint is the verifier's refusal of one argument probe, parsed.
type Complaint struct {
	Kind Kind
	// Reg is the argument register the complaint is about, 1..5; 0 when it names none (a map
	// type complaint, "invalid access to ..." without a register) or a register that is not an
	// argument (R0, R6..R10).
	Reg int
	// Got is the verifier's word for what the register held (WrongType: "scalar"; 5.10 says
	// "inv"), or the struct it pointed to (WrongBTFType).
	Got string
	// Expected are the words after "expected=" (WrongType), or the struct wanted (WrongBTFType).
	Expected []string
	// MapType is the map type refused (WrongMapType).
	MapType int
	// Line is the message the complaint was read from; "" when there was none.
	Line string
	// ArgNum is the number of an "arg #N" the complaint named, -1 when it named none: kernels
	// count it from 0 (6.12 on) or, in some messages, from 1 (6.1), so Reg, read as counted
	// from 0, may need correcting (see CountMayStartAtOne).
	ArgNum int
	// Row is the grammar's row the complaint was read by; nil when no row matched.
	Row *Row
}

// ReleaseUnacquired reports whether the complaint is 5.10's "reference has not been acquired
// before", which names no register: the value given last is meant.
func (c Complaint) ReleaseUnacquired() bool {
	return row("reference-unacquired").re.MatchString(c.Line)
}

// UnreleasedReference returns the instruction that acquired the reference a program exited
// still holding ("Unreleased reference id=1 alloc_insn=0": alloc_insn), from the first such
// message of log, and whether log has one. Every kernel of 5.10 to 7.3 says it so; 7.3's
// explanation block after it is indented, so its prose never counts.
func UnreleasedReference(log string) (allocInsn int, ok bool) {
	r := row("unreleased")
	for line := range strings.Lines(log) {
		line = strings.TrimRight(line, " \t\r\n")
		if !r.Match(line) {
			continue
		}
		n, err := strconv.Atoi(r.re.FindStringSubmatch(line)[1])
		return n, err == nil
	}
	return 0, false
}

// Want is a value an OtherArg complaint asks for in its own words.
type Want int

const (
	// WantsReference: "R1 must be referenced ...", "... expects referenced PTR_TO_BTF_ID ...",
	// "... reference has not been acquired before": a pointer the program holds a reference to.
	WantsReference Want = iota
	// WantsDynptr: "Expected an initialized dynptr as arg #1": a dynptr made before the call.
	WantsDynptr
	// WantsAcquired: "arg 1 is an unacquired reference": a value from an acquiring call.
	WantsAcquired
	// WantsRingbufDynptr: "Expected a dynptr of type ringbuf as ..." (7.2 on).
	WantsRingbufDynptr
	// WantsMapValue: "Unsupported reg type fp for bpf_dynptr_from_mem data".
	WantsMapValue
)

// wants are the words of each Want.
var wants = [...]func(line string) bool{
	WantsReference: func(line string) bool {
		return strings.Contains(line, "must be referenced") || strings.Contains(line, "expects referenced") ||
			row("reference-unacquired").re.MatchString(line)
	},
	WantsDynptr:        func(line string) bool { return strings.HasPrefix(line, "Expected an initialized dynptr") },
	WantsAcquired:      func(line string) bool { return strings.Contains(line, "is an unacquired reference") },
	WantsRingbufDynptr: func(line string) bool { return strings.HasPrefix(line, "Expected a dynptr of type ringbuf") },
	WantsMapValue:      func(line string) bool { return row("dynptr-data").re.MatchString(line) },
}

// Wants reports whether the complaint asks for w in its own words.
func (c Complaint) Wants(w Want) bool {
	return wants[w](c.Line)
}

// CountMayStartAtOne reports whether the complaint's "arg #N" may count from 1: the dynptr
// complaints do on 6.1 ("Expected an initialized dynptr as arg #1" of register 1).
func (c Complaint) CountMayStartAtOne() bool {
	return c.ArgNum >= 0 && strings.Contains(c.Line, "dynptr")
}

// ParseComplaint reads an argument probe's log: which argument register the verifier refused,
// and what it wanted there. The first message after the trace that names an argument decides;
// without one, the complaint is NotAboutArg with the first message as its line.
func ParseComplaint(log string) Complaint {
	lines := complaintLines(log)
	for _, line := range lines {
		if c, ok := ParseComplaintLine(line); ok {
			return c
		}
	}
	c := Complaint{Kind: NotAboutArg, ArgNum: -1}
	if len(lines) > 0 {
		c.Line = lines[0]
	}
	return c
}

// row returns the grammar's row of that name.
func row(name string) *Row {
	for i := range grammar {
		if grammar[i].Name == name {
			return &grammar[i]
		}
	}
	panic("verifierlog: no row " + name)
}

// regInsideRE finds a register named anywhere in a line (Reading.RegAnywhere).
var regInsideRE = regexp.MustCompile(`\bR(\d+)\b`)

// ParseComplaintLine parses one message line, reporting whether it is about an argument: the
// first of the grammar's rows with a Reading that matches the line reads it.
func ParseComplaintLine(line string) (Complaint, bool) {
	c := Complaint{Line: line, ArgNum: -1}
	row := args.Match(line)
	if row == nil {
		return c, false
	}
	m, rd := row.re.FindStringSubmatch(line), row.Arg
	c.Kind, c.Row = rd.Kind, row
	if rd.Got > 0 {
		c.Got = m[rd.Got]
	}
	switch {
	case rd.Expected > 0 && rd.List:
		c.Expected = strings.Split(strings.TrimSuffix(strings.TrimSpace(m[rd.Expected]), ","), ", ")
	case rd.Expected > 0:
		c.Expected = []string{m[rd.Expected]}
	case rd.Wants != "":
		c.Expected = []string{rd.Wants}
	}
	if rd.MapType > 0 {
		c.MapType, _ = strconv.Atoi(m[rd.MapType])
	}
	switch {
	case rd.Reg > 0:
		c.Reg = argReg(m[rd.Reg])
		return c, c.Reg != 0
	case rd.Index > 0:
		n, _ := strconv.Atoi(m[rd.Index])
		c.Reg, c.ArgNum = argReg(strconv.Itoa(n+1)), n
		return c, c.Reg != 0
	case rd.FixedReg > 0:
		c.Reg = rd.FixedReg
	case rd.RegAnywhere:
		if m := regInsideRE.FindStringSubmatch(line); m != nil {
			c.Reg = argReg(m[1])
		}
	}
	return c, true
}

// argReg returns the argument register number in s, or 0 when s is not 1..5.
func argReg(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 5 {
		return 0
	}
	return n
}
