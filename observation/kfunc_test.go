package observation

import (
	"slices"
	"testing"
)

func TestCollectKfuncFlags(t *testing.T) {
	d := &Document{
		Facts: Facts{Kfuncs: []Kfunc{
			{Name: "bpf_task_acquire"},
			{Name: "bpf_copy_from_user_str", Flags: []string{"trusted_args"}},
			{Name: "bpf_task_acquire", Module: "m"},
		}},
		Results: []Result{
			{Kfunc: "bpf_task_acquire", Outcome: Supported, Flags: "trusted_args"},
			{Kfunc: "bpf_task_acquire", Outcome: Supported, Flags: "acquire,trusted_args"},
			{Kfunc: "bpf_copy_from_user_str", Outcome: SleepableOnly, Flags: "sleepable"},
			{HelperID: 5, Outcome: Supported},
		},
	}
	d.CollectKfuncFlags()
	want := [][]string{{"acquire", "trusted_args"}, {"sleepable", "trusted_args"}, nil}
	for i, k := range d.Kfuncs {
		if !slices.Equal(k.Flags, want[i]) {
			t.Errorf("%s (%q): flags %v, want %v", k.Name, k.Module, k.Flags, want[i])
		}
	}
}
