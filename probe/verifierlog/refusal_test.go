package verifierlog

import (
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// TestRefusal reads logs of whole programs refused by a 6.18 kernel (objload's test objects): the
// note before the trace never decides, the message after the last instruction does.
func TestRefusal(t *testing.T) {
	const note = "arg#0 reference type('UNKNOWN ') size cannot be determined: -22\n0: R1=ctx() R10=fp0\n"
	for _, tc := range []struct {
		name, log, line string
		cause           observation.Cause
	}{
		{"unknown helper", note + "0: (85) call unknown#999\ninvalid func unknown#999\nprocessed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n",
			"invalid func unknown#999", observation.CauseHelperUnknown},
		{"CO-RE poison", note + "0: (85) call unknown#195896080\ninvalid func unknown#195896080\nprocessed 1 insns\n",
			"invalid func unknown#195896080", observation.CauseCORERelocation},
		{"weak kfunc poison", "0: (85) call unknown#233750750\ninvalid func unknown#233750750\n",
			"invalid func unknown#233750750", observation.CauseKfuncUnknown},
		{"gpl", note + "6: (85) call bpf_probe_read_kernel#113\ncannot call GPL-restricted function from non-GPL compatible program\nprocessed 7 insns\n",
			"cannot call GPL-restricted function from non-GPL compatible program", observation.CauseGPLOnly},
		{"own access", note + "7: (79) r0 = *(u64 *)(r0 +0)\nR0 invalid mem access 'map_value_or_null'\nprocessed 7 insns\n",
			"R0 invalid mem access 'map_value_or_null'", observation.CauseVerifier},
		{"loop", "3: (05) goto pc-2\nback-edge from insn 3 to 1\n", "back-edge from insn 3 to 1", observation.CauseVerifier},
		{"global function", "Global function pick() doesn't return scalar. Only those are supported.\nprocessed 0 insns\n",
			"Global function pick() doesn't return scalar. Only those are supported.", observation.CauseBTF},
		{"words nobody knows", note + "0: (b7) r0 = 0\nsomething new\n", "something new", ""},
		{"only the note", note, "", ""},
		{"empty", "", "", ""},
	} {
		row, line := Refusal(tc.log)
		var cause observation.Cause
		if row != nil {
			cause = row.Cause
		}
		if line != tc.line || cause != tc.cause {
			t.Errorf("%s: Refusal = %q (%q), want %q (%q)", tc.name, line, cause, tc.line, tc.cause)
		}
	}
}
