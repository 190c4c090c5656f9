package objverdict

import (
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// answers builds one program's answers on the kernels named, in order: "+" loaded, a cause word
// refused with reason "why <cause>".
func answers(spec ...string) []Answer {
	var out []Answer
	for _, s := range spec {
		kernel, outcome, _ := strings.Cut(s, "=")
		a := Answer{Kernel: kernel, Loaded: outcome == "+"}
		if !a.Loaded {
			a.Cause, a.Reason = observation.Cause(outcome), "why "+outcome
		}
		out = append(out, a)
	}
	return out
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name    string
		answers []Answer
		want    string
	}{
		{"none asked", nil, "no kernel asked"},
		{"every kernel", answers("5.10=+", "6.1=+", "7.3=+"), "every kernel"},
		{"from a release on", answers("5.10=helper_unknown", "6.1=helper_unknown", "6.12=+", "7.3=+"), "6.12 and later; before: helper_unknown: why helper_unknown"},
		{"the last kernel only", answers("5.10=helper_unknown", "7.3=+"), "7.3; not on 5.10 (helper_unknown: why helper_unknown)"},
		{"until a release", answers("5.10=+", "6.1=+", "6.12=attach_target", "7.3=attach_target"), "5.10, 6.1; not from 6.12: attach_target: why attach_target"},
		{"no kernel", answers("5.10=verifier", "7.3=verifier"), "no kernel: verifier: why verifier"},
		{"no kernel, two reasons", answers("5.10=kfunc_unknown", "7.3=kfunc_not_for_type"),
			"no kernel: 5.10 (kfunc_unknown: why kfunc_unknown); 7.3 (kfunc_not_for_type: why kfunc_not_for_type)"},
		{"a hole", answers("5.10=+", "6.1=map", "7.3=+"), "5.10, 7.3; not on 6.1 (map: why map)"},
		// A failed kernel is named, never folded into "and later".
		{"failed kernel", answers("5.10=kernel_failed", "6.1=+", "7.3=+"), "6.1, 7.3; not on 5.10 (kernel_failed: why kernel_failed)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.answers); got != tt.want {
				t.Errorf("Summarize = %q, want %q", got, tt.want)
			}
		})
	}
}
