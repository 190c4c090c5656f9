package verifierlog

import "strconv"

// The kernel decides which helpers a program type may call in the type's func_proto callback, and
// which kfuncs in id sets registered per type (per "hook"); it refuses a function the type may
// not call with one line that names the function and nothing else of the program. Functions
// refused in the same variants on a kernel are refused alike, so one such refusal answers for
// the others of its class: the probe's plan relies on that (see probe.Plan's classes), and it
// must read and write those lines exactly as the kernel does.

// notAllowedRow is the grammar's row of that refusal.
var notAllowedRow = row("kfunc-not-allowed")

// TypeRefusedKfunc returns the kfunc that line refuses for not being in the program type's id
// sets, and whether line is that refusal.
func TypeRefusedKfunc(line string) (string, bool) {
	if !notAllowedRow.Match(line) {
		return "", false
	}
	return notAllowedRow.re.FindStringSubmatch(line)[1], true
}

// TypeRefusalLine is the refusal of kfunc name for not being in the program type's id sets,
// worded as the kernels (6.1 to 7.3) print it.
func TypeRefusalLine(name string) string {
	return "calling kernel function " + name + " is not allowed"
}

// helperRefusalRows are the rows of a helper refused for the program's type: "unknown func" up
// to 6.1, "program of this type cannot use helper" from 6.12.
var helperRefusalRows = []*Row{row("unknown-func"), row("type-cannot-use-helper")}

// TypeRefusedHelper returns the id of the helper that line refuses for the program's type, and
// whether line is such a refusal.
func TypeRefusedHelper(line string) (int, bool) {
	for _, r := range helperRefusalRows {
		if r.Match(line) {
			id, err := strconv.Atoi(r.re.FindStringSubmatch(line)[2])
			return id, err == nil
		}
	}
	return 0, false
}

// RenameHelperRefusal returns line, a refusal TypeRefusedHelper reads, as the same kernel words
// it for helper id named name (the kernel's name, "bpf_" and the enum's), and whether line was
// such a refusal.
func RenameHelperRefusal(line, name string, id int) (string, bool) {
	for _, r := range helperRefusalRows {
		if r.Match(line) {
			at := r.re.FindStringSubmatchIndex(line)
			return line[:at[2]] + name + "#" + strconv.Itoa(id) + line[at[5]:], true
		}
	}
	return line, false
}
