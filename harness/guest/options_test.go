package guest

import (
	"testing"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
)

// TestOptionsExhaustive reads the host's exhaustive word: only "1" asks for every pair.
func TestOptionsExhaustive(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{{"1", true}, {"", false}, {"0", false}, {"yes", false}} {
		t.Run(tc.value, func(t *testing.T) {
			t.Setenv(wire.EnvExhaustive, tc.value)
			opts, err := options()
			if err != nil {
				t.Fatal(err)
			}
			if opts.Exhaustive != tc.want {
				t.Errorf("%s=%q: exhaustive %v, want %v", wire.EnvExhaustive, tc.value, opts.Exhaustive, tc.want)
			}
		})
	}
}
