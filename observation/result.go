package observation

// Result is the answer for one (helper, variant) or (kfunc, variant) pair.
type Result struct {
	// HelperID is the helper's number in enum bpf_func_id; 0 for a kfunc's answer.
	HelperID int `json:"helper_id"`
	// Kfunc is the kfunc's name for a kfunc's answer; empty for a helper's.
	Kfunc string `json:"kfunc,omitempty"`
	// Helper is the registry name without bpf_, or "" for an id the registry lacks.
	Helper string `json:"helper"`
	// ProgType is the kernel's name of the program type, e.g. "tracing".
	ProgType string `json:"prog_type"`
	// Variant is the attach variant's short name, equal to ProgType for single-variant types.
	Variant string `json:"variant"`
	// Outcome is one of the words in Outcomes.
	Outcome Outcome `json:"outcome"`
	// Detail is the log line or error that decided the outcome.
	Detail string `json:"detail"`
	// Log is the whole verifier log, kept only for Unclassified results so that a rule can be
	// written for it.
	Log string `json:"log,omitempty"`
	// Flags are, for a kfunc's answer, the kfunc's flags this load's log showed (see
	// Kfunc.Flags), sorted and joined by commas ("acquire,trusted_args"): which variant showed
	// which flag, and the flags of a stream whose facts were sent only before the run. A
	// string keeps Result comparable.
	Flags string `json:"flags,omitempty"`
	// From names the variant of the same program type whose answer this is, when the probe
	// took it from that variant instead of loading the pair itself: the probe's plan
	// (probe/plan.json) found the two answering alike for this function on this very kernel
	// release. Empty for an answer of the pair's own load.
	From string `json:"from,omitempty"`
	// Like names the function whose refusal in this same variant answered for this one, when
	// the probe did not load the pair itself: a kfunc's name, or a helper's id in decimal. The
	// kernel refused Like for the program's type (not in its kfunc id sets, not offered by its
	// func_proto), and the probe's plan found the two refused in exactly the same variants on
	// this very kernel release. Empty for an answer of the pair's own load.
	Like string `json:"like,omitempty"`
}
