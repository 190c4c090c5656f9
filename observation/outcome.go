package observation

// Outcome is what a kernel answered about one helper in one attach variant. The words are
// the spelling of the JSON output, the observation cache and the reports, so they never change.
type Outcome string

// The outcomes, in report order.
const (
	// Supported: the verifier accepted the helper call (the program loaded, or the verifier went
	// on to complain about an argument, which it only checks after accepting the helper).
	Supported Outcome = "supported"
	// GPLOnly: the helper is offered, but only to programs with a GPL-compatible license.
	GPLOnly Outcome = "gpl_only"
	// UnknownID: the kernel does not know the helper id (or the kfunc) at all.
	UnknownID Outcome = "unknown_id"
	// NotForType: the kernel knows the id but does not offer it to this program type or attach
	// variant.
	NotForType Outcome = "not_for_type"
	// NotForTarget: the helper is offered to the type but refused for this attach target (for
	// example bpf_d_path outside its allow list of functions).
	NotForTarget Outcome = "not_for_target"
	// SleepableOnly: the helper may sleep and the program is not sleepable.
	SleepableOnly Outcome = "sleepable_only"
	// NeedsCapability: offered, but only to a program loaded with a capability the probe's
	// load lacked (a kfunc the kernel keeps for CAP_SYS_BOOT, say).
	NeedsCapability Outcome = "needs_capability"
	// DeviceBound: offered only to programs bound to a network device (XDP metadata kfuncs).
	DeviceBound Outcome = "device_bound"
	// Inconclusive: the kernel refused the program before it looked at the call (missing type,
	// missing attach target, EPERM, E2BIG, ENOTSUPP...). It never counts as "not supported".
	Inconclusive Outcome = "inconclusive"
	// Unclassified: the verifier said something no rule knows. It is reported loudly and its
	// log is kept so that a rule can be written; it is never guessed.
	Unclassified Outcome = "unclassified"
)

// Outcomes lists every outcome word in report order.
var Outcomes = []Outcome{Supported, GPLOnly, UnknownID, NotForType, NotForTarget, SleepableOnly, NeedsCapability, DeviceBound, Inconclusive, Unclassified}

// Valid reports whether o is one of the outcome words.
func (o Outcome) Valid() bool {
	for _, w := range Outcomes {
		if o == w {
			return true
		}
	}
	return false
}

// Offered reports whether the outcome shows the kernel offering the helper to the variant's
// program type, under whatever condition (license, sleepable program, attach target).
func (o Outcome) Offered() bool {
	switch o {
	case Supported, GPLOnly, NotForTarget, SleepableOnly, NeedsCapability, DeviceBound:
		return true
	}
	return false
}
