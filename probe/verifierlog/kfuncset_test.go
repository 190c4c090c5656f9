package verifierlog

import "testing"

func TestTypeRefusal(t *testing.T) {
	for _, tc := range []struct {
		line string
		name string
		ok   bool
	}{
		{"calling kernel function bpf_task_acquire is not allowed", "bpf_task_acquire", true},
		{"calling kernel function scx_bpf_dsq_insert is not allowed", "scx_bpf_dsq_insert", true},
		{"calling kernel function  is not allowed", "", false},
		{"calling kernel function bpf_obj_new_impl is not allowed here", "", false},
		{"program must be sleepable to call sleepable kfunc bpf_copy_from_user_str", "", false},
		{" calling kernel function bpf_task_acquire is not allowed", "", false},
	} {
		name, ok := TypeRefusedKfunc(tc.line)
		if name != tc.name || ok != tc.ok {
			t.Errorf("TypeRefusedKfunc(%q) = %q, %v; want %q, %v", tc.line, name, ok, tc.name, tc.ok)
		}
		if tc.ok {
			if got := TypeRefusalLine(tc.name); got != tc.line {
				t.Errorf("TypeRefusalLine(%q) = %q, want the kernel's %q", tc.name, got, tc.line)
			}
		}
	}
}
