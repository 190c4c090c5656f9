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

func TestHelperRefusal(t *testing.T) {
	for _, tc := range []struct {
		line, renamed string
		id            int
		ok            bool
	}{
		{"unknown func bpf_map_lookup_elem#1", "unknown func bpf_sk_lookup_tcp#84", 1, true},
		{"program of this type cannot use helper bpf_probe_read#4", "program of this type cannot use helper bpf_sk_lookup_tcp#84", 4, true},
		{"invalid func unknown#212", "", 0, false},
		{"program of this type cannot use helper bpf_probe_read#4 here", "", 0, false},
		{"helper call is not allowed in probe", "", 0, false},
	} {
		id, ok := TypeRefusedHelper(tc.line)
		if id != tc.id || ok != tc.ok {
			t.Errorf("TypeRefusedHelper(%q) = %d, %v; want %d, %v", tc.line, id, ok, tc.id, tc.ok)
		}
		renamed, ok := RenameHelperRefusal(tc.line, "bpf_sk_lookup_tcp", 84)
		if !tc.ok {
			if ok || renamed != tc.line {
				t.Errorf("RenameHelperRefusal(%q) = %q, %v; want the line back, false", tc.line, renamed, ok)
			}
			continue
		}
		if !ok || renamed != tc.renamed {
			t.Errorf("RenameHelperRefusal(%q) = %q, %v; want %q", tc.line, renamed, ok, tc.renamed)
		}
		if id, ok := TypeRefusedHelper(renamed); !ok || id != 84 {
			t.Errorf("the renamed line %q reads as %d, %v", renamed, id, ok)
		}
	}
}
