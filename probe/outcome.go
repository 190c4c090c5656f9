package probe

// The outcomes of one (helper, variant) probe. They are the words of the JSON output and of the
// observation cache, so they never change spelling.
const (
	// Supported: the verifier accepted the helper call (the program loaded, or the verifier went
	// on to complain about an argument, which it only checks after accepting the helper).
	Supported = "supported"
	// GPLOnly: the helper is offered, but only to programs with a GPL-compatible license.
	GPLOnly = "gpl_only"
	// UnknownID: the kernel does not know the helper id at all.
	UnknownID = "unknown_id"
	// NotForType: the kernel knows the id but does not offer it to this program type or attach
	// variant.
	NotForType = "not_for_type"
	// NotForTarget: the helper is offered to the type but refused for this attach target (for
	// example bpf_d_path outside its allow list of functions).
	NotForTarget = "not_for_target"
	// SleepableOnly: the helper may sleep and the program is not sleepable.
	SleepableOnly = "sleepable_only"
	// Inconclusive: the kernel refused the program before it looked at the call (missing type,
	// missing attach target, EPERM, E2BIG, ENOTSUPP...). It never counts as "not supported".
	Inconclusive = "inconclusive"
	// Unclassified: the verifier said something no rule knows. It is reported loudly and its
	// log is kept so that a rule can be written; it is never guessed.
	Unclassified = "unclassified"
)

// Outcomes lists every outcome word in report order.
var Outcomes = []string{Supported, GPLOnly, UnknownID, NotForType, NotForTarget, SleepableOnly, Inconclusive, Unclassified}
