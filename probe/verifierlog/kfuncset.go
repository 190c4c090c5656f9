package verifierlog

// The kernel keeps the kfuncs a program type may call in id sets registered per type (per
// "hook"), and refuses a kfunc outside them with one line that names the kfunc and nothing
// else of the program. Kfuncs of the same sets are refused in the same programs, so one such
// refusal answers for the others of its set: the probe's plan relies on that (see probe.Plan's
// kfunc classes), and it must read and write that line exactly as the kernel does.

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
