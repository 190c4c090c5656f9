package probe

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// complaintKind sorts what the verifier said about a helper call's arguments.
type complaintKind int

const (
	// notAboutArg: the verifier went past the arguments (or never named one): a refusal of the
	// call's effects, the return value, an unreleased reference, or nothing it recognises.
	notAboutArg complaintKind = iota
	// wrongType: "R1 type=scalar expected=map_ptr": the register holds the wrong kind of value.
	wrongType
	// badSize: "R2 invalid zero-sized read", "R2 min value is negative...": a length argument
	// must be a positive bounded number.
	badSize
	// possiblyNull: "Possibly NULL pointer passed to helper arg2": the pointer may be NULL.
	possiblyNull
	// wrongBTFType: "R1 is of type task_struct but sock is expected": a BTF pointer to the wrong
	// struct.
	wrongBTFType
	// wrongMapType: "cannot pass map_type 1 into func bpf_ringbuf_output#130": the map argument
	// is of the wrong type; the message names no register.
	wrongMapType
	// needsBTFField: "map 'x' has to have BTF in order to use bpf_timer": the map value given
	// must hold a field the map's BTF describes (a bpf_timer, a bpf_spin_lock, a kptr); got
	// names the function that wants it.
	needsBTFField
	// otherArg: any other complaint that names an argument register or argument ("R1 must be
	// referenced ...", "arg#0 expected pointer to stack ...", "invalid indirect read from stack
	// R2 ...", "invalid access to map value ...").
	otherArg
	// unsetArg: "R3 !read_ok": the register holds no value, and the helper takes it as an
	// argument (the verifier reads only the registers of a helper's arguments).
	unsetArg
)

var complaintKindNames = [...]string{"not-about-arg", "wrong-type", "bad-size", "possibly-null", "wrong-btf-type", "wrong-map-type", "needs-btf-field", "other-arg", "unset-arg"}

func (k complaintKind) String() string { return complaintKindNames[k] }

// complaint is the verifier's refusal of one argument probe, parsed.
type complaint struct {
	kind complaintKind
	// reg is the argument register the complaint is about, 1..5; 0 when it names none (a map
	// type complaint, "invalid access to ..." without a register) or a register that is not an
	// argument (R0, R6..R10).
	reg int
	// got is the verifier's word for what the register held (wrongType: "scalar"; 5.10 says
	// "inv"), or the struct it pointed to (wrongBTFType).
	got string
	// expected are the words after "expected=" (wrongType), or the struct wanted (wrongBTFType).
	expected []string
	// mapType is the map type refused (wrongMapType).
	mapType int
	// line is the message the complaint was read from; "" when there was none.
	line string
	// argNum is the number of an "arg #N" the complaint named, -1 when it named none: kernels
	// count it from 0 (6.12 on) or, in some messages, from 1 (6.1), so reg, read as counted
	// from 0, may need correcting (argWalk.countedReg).
	argNum int
}

var (
	typeRE = regexp.MustCompile(`^R(\d+) type=(\S+) expected=(.+)$`)
	sizeRE = regexp.MustCompile(`^R(\d+) (invalid zero-sized read|min value is negative|unbounded memory access|max value is outside|min value is outside)`)
	// zeroSizeRE is 5.10's and 6.1's refusal of a size of 0, which names no register.
	zeroSizeRE = regexp.MustCompile(`^invalid zero-sized read$`)
	// nullRE: "helper arg2" up to 7.1, "helper R2" from 7.2; both count registers.
	nullRE     = regexp.MustCompile(`^Possibly NULL pointer passed to helper (?:arg|R)(\d+)`)
	btfTypeRE  = regexp.MustCompile(`^R(\d+) is of type (\S+) but (\S+) is expected`)
	mapTypeRE  = regexp.MustCompile(`^cannot pass map_type (\d+) into func (\S+)`)
	btfFieldRE = regexp.MustCompile(`^map '[^']*' has to have BTF in order to use (\S+)`)
	// arg#0 (kfunc-style checks of helper arguments) and "arg #0" count from 0; "arg 1"
	// ("arg 1 is an unacquired reference") is the register number.
	argNumRE   = regexp.MustCompile(`(?:^arg#| as arg #)(\d+)\b`)
	argRegRE   = regexp.MustCompile(`^arg (\d+) `)
	regStartRE = regexp.MustCompile(`^R(\d+) `)
	unsetRE    = regexp.MustCompile(`^R(\d+) !read_ok`)
	// namedRegRE finds the register a message names at its end: "Expected an initialized
	// dynptr as R1" (7.2 on), "release helper bpf_sk_release expects referenced PTR_TO_BTF_ID
	// passed to R1" (7.2 on).
	namedRegRE = regexp.MustCompile(`(?: as| to) R(\d+)$`)
	// refNotAcquiredRE is 5.10's refusal of a release helper's argument, which names no
	// register: "func bpf_sk_release#86 reference has not been acquired before".
	refNotAcquiredRE = regexp.MustCompile(`reference has not been acquired before$`)
	// dynptrDataRE: bpf_dynptr_from_mem takes its data (R1) from a map value only.
	dynptrDataRE = regexp.MustCompile(`^Unsupported reg type (\S+) for bpf_dynptr_from_mem data`)
	regInsideRE  = regexp.MustCompile(`\bR(\d+)\b`)
	// argAccessRE are complaints about the memory an argument points to, which do not always
	// name the register: "invalid access to map value, value_size=8 off=0 size=64",
	// "invalid indirect read from stack R2 off -128+0 size 256", "invalid read from stack ...".
	argAccessRE = regexp.MustCompile(`^(invalid (indirect )?(access|read|write) |invalid stack type |access beyond )`)
	// insnRE is an instruction line of the trace: the verifier's refusal follows the last one.
	insnRE = regexp.MustCompile(`^\d+: \([0-9a-f]{2}\) `)
	// stateRE are lines of register state the verifier prints around subprogram calls and
	// callbacks at log level 1.
	stateRE = regexp.MustCompile(`^(caller:|callee:|returning from callee:|to caller at \d+:|frame\d+: |\s)`)
)

// complaintLines returns the verifier's messages after the last instruction of the trace, up to
// the statistics or 7.3's explanation block: the refusal and whatever it printed with it.
func complaintLines(log string) []string {
	lines := strings.Split(log, "\n")
	start := 0
	for i, line := range lines {
		if insnRE.MatchString(line) {
			start = i + 1
		}
	}
	var out []string
	for _, line := range lines[start:] {
		if line == "Verification failed:" || strings.HasPrefix(line, "Verification failed: ") {
			break
		}
		if traceRE.MatchString(line) || stateRE.MatchString(line) {
			continue
		}
		out = append(out, strings.TrimSpace(line))
	}
	return out
}

// parseComplaint reads an argument probe's log: which argument register the verifier refused,
// and what it wanted there. The first message line that names an argument decides; without one,
// the complaint is notAboutArg with the first message as its line.
func parseComplaint(log string) complaint {
	lines := complaintLines(log)
	for _, line := range lines {
		if c, ok := parseComplaintLine(line); ok {
			return c
		}
	}
	c := complaint{kind: notAboutArg, argNum: -1}
	if len(lines) > 0 {
		c.line = lines[0]
	}
	return c
}

// parseComplaintLine parses one message line, reporting whether it is about an argument.
func parseComplaintLine(line string) (complaint, bool) {
	c := complaint{line: line, argNum: -1}
	if m := unsetRE.FindStringSubmatch(line); m != nil {
		c.kind, c.reg = unsetArg, argReg(m[1])
		return c, c.reg != 0
	}
	if m := typeRE.FindStringSubmatch(line); m != nil {
		c.kind, c.reg, c.got = wrongType, argReg(m[1]), m[2]
		c.expected = strings.Split(strings.TrimSuffix(strings.TrimSpace(m[3]), ","), ", ")
		return c, c.reg != 0
	}
	if m := sizeRE.FindStringSubmatch(line); m != nil {
		c.kind, c.reg = badSize, argReg(m[1])
		return c, c.reg != 0
	}
	if zeroSizeRE.MatchString(line) {
		c.kind = badSize
		return c, true
	}
	if m := nullRE.FindStringSubmatch(line); m != nil {
		c.kind, c.reg = possiblyNull, argReg(m[1])
		return c, c.reg != 0
	}
	if m := btfTypeRE.FindStringSubmatch(line); m != nil {
		c.kind, c.reg, c.got, c.expected = wrongBTFType, argReg(m[1]), m[2], []string{m[3]}
		return c, c.reg != 0
	}
	if m := mapTypeRE.FindStringSubmatch(line); m != nil {
		c.kind = wrongMapType
		c.mapType, _ = strconv.Atoi(m[1])
		return c, true
	}
	if m := btfFieldRE.FindStringSubmatch(line); m != nil {
		c.kind, c.got = needsBTFField, m[1]
		return c, true
	}
	if m := argNumRE.FindStringSubmatch(line); m != nil {
		n, _ := strconv.Atoi(m[1])
		c.kind, c.reg, c.argNum = otherArg, argReg(strconv.Itoa(n+1)), n
		return c, c.reg != 0
	}
	if m := namedRegRE.FindStringSubmatch(line); m != nil {
		c.kind, c.reg = otherArg, argReg(m[1])
		return c, c.reg != 0
	}
	if refNotAcquiredRE.MatchString(line) {
		c.kind = otherArg
		return c, true
	}
	if m := dynptrDataRE.FindStringSubmatch(line); m != nil {
		c.kind, c.reg, c.got, c.expected = otherArg, 1, m[1], []string{"map_value"}
		return c, true
	}
	if m := argRegRE.FindStringSubmatch(line); m != nil {
		c.kind, c.reg = otherArg, argReg(m[1])
		return c, c.reg != 0
	}
	if m := regStartRE.FindStringSubmatch(line); m != nil {
		c.kind, c.reg = otherArg, argReg(m[1])
		return c, c.reg != 0
	}
	if argAccessRE.MatchString(line) {
		c.kind = otherArg
		if m := regInsideRE.FindStringSubmatch(line); m != nil {
			c.reg = argReg(m[1])
		}
		return c, true
	}
	return c, false
}

// argReg returns the argument register number in s, or 0 when s is not 1..5.
func argReg(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 5 {
		return 0
	}
	return n
}

// lastInsn is the index of the last instruction the log's trace shows, -1 when none.
func lastInsn(log string) int {
	last := -1
	for line := range strings.Lines(log) {
		if strings.HasPrefix(line, "Verification failed") {
			break // 7.3's explanation quotes instructions in another format; stop anyway
		}
		if insnRE.MatchString(line) {
			var n int
			fmt.Sscanf(line, "%d:", &n)
			last = n
		}
	}
	return last
}
