package kernelsrc

import "testing"

func TestGuardEval(t *testing.T) {
	config := Config(func(o string) string {
		return map[string]string{"CONFIG_Y": "y", "CONFIG_M": "m"}[o]
	})
	tests := []struct {
		guard   Guard
		want    bool
		wantErr bool
	}{
		{"", true, false},
		{"CONFIG_Y", true, false},
		{"CONFIG_M", false, false}, // a module's option defines CONFIG_M_MODULE, not CONFIG_M
		{"!CONFIG_N", true, false},
		{"defined(CONFIG_Y)", true, false},
		{"defined CONFIG_Y", true, false},
		{"IS_ENABLED(CONFIG_M)", true, false},
		{"IS_BUILTIN(CONFIG_M)", false, false},
		{"IS_MODULE(CONFIG_M)", true, false},
		{"IS_REACHABLE(CONFIG_M)", true, false},
		{"CONFIG_Y && !CONFIG_N", true, false},
		{"CONFIG_N || CONFIG_Y", true, false},
		{"!(defined(CONFIG_N) || defined(CONFIG_Y)) && CONFIG_Y", false, false},
		{"(CONFIG_N || CONFIG_Y) && IS_ENABLED(CONFIG_M)", true, false},
		{"0", false, false},
		{"1", true, false},
		{"__BIG_ENDIAN_BITFIELD", false, true},
		{"BITS_PER_LONG == 32", false, true},
		{"IS_ENABLED(FOO)", false, true},
		{"(CONFIG_Y", false, true},
		{"CONFIG_Y &&", false, true},
	}
	for _, tt := range tests {
		got, err := tt.guard.Eval(config)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err = %v, want error %v", tt.guard, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("%q = %v, want %v", tt.guard, got, tt.want)
		}
	}
	if _, err := Guard("CONFIG_Y").Eval(nil); err == nil {
		t.Error("a guard decided without a config")
	}
}
