package objverdict

import (
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// TestExplain explains booted refusals, with the verifier's own words as the reason (the
// wording of 5.10 and 6.12 kernels), in the registries' words.
func TestExplain(t *testing.T) {
	r := regs(t)
	tests := []struct {
		name, program, kernel, version string
		cause                          observation.Cause
		reason                         string
		want                           string // "" when no explanation is due
	}{
		{"helper 5.10 lacks", "loop_kprobe", "5.10", "5.10.262", observation.CauseHelperUnknown, "invalid func unknown#181",
			"calls bpf_loop (id 181), offered from " + minKernel(t, r, "loop") + "; 5.10 does not define it"},
		{"helper not for kprobe", "xdp_helper_in_kprobe", "6.12", "6.12.118", observation.CauseHelperNotForType,
			"program of this type cannot use helper bpf_xdp_adjust_head#44", "calls bpf_xdp_adjust_head (id 44), not offered to kprobe programs"},
		// The kernel names the second kfunc: that one is explained, not the first.
		{"kfunc the reason names", "kfunc_in_kprobe", "7.3", "7.3.4", observation.CauseKfuncNotForType,
			"calling kernel function bpf_task_release is not allowed", "calls bpf_task_release, not callable from kprobe programs"},
		{"kfunc first of the cause", "kfunc_in_kprobe", "7.3", "7.3.4", observation.CauseKfuncNotForType,
			"calling kernel function is not allowed", "calls bpf_task_from_pid, not callable from kprobe programs"},
		{"prog type", "syscall_prog", "5.10", "5.10.262", observation.CauseProgType, "invalid argument", "syscall programs arrived in 5.14"},
		// A refusal the registries do not foresee: they lack a fact.
		{"registry gap", "xdp_pass", "7.3", "7.3.4", observation.CauseHelperUnknown, "invalid func unknown#5",
			"the registries offer everything xdp_pass calls on 7.3"},
		// Words no rule knew: the registries' problems are given.
		{"unknown cause", "loop_kprobe", "5.10", "5.10.262", observation.CauseUnknown, "something new",
			"the registries say: calls bpf_loop (id 181)"},
		{"unknown cause, nothing known", "xdp_pass", "5.10", "5.10.262", observation.CauseUnknown, "something new", ""},
		{"verifier", "loop_kprobe", "7.3", "7.3.4", observation.CauseVerifier, "R1 invalid mem access 'scalar'", ""},
		{"series only", "loop_kprobe", "5.10", "", observation.CauseHelperUnknown, "invalid func unknown#181", "5.10 does not define it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := program(t, "calls", tt.program)
			pl := observation.ProgramLoad{Object: "calls.o", Program: tt.program, Section: prog.Section, Cause: tt.cause, Reason: tt.reason}
			a := FromLoad(pl, Kernel{tt.kernel, tt.version}, prog, r)
			if a.Reason != tt.reason || a.Cause != tt.cause || a.Static || a.Object != "calls.o" {
				t.Errorf("answer changed the kernel's words: %+v", a)
			}
			switch {
			case tt.want == "" && a.Explanation != "":
				t.Errorf("explanation %q, want none", a.Explanation)
			case !strings.Contains(a.Explanation, tt.want):
				t.Errorf("explanation %q does not say %q", a.Explanation, tt.want)
			}
		})
	}
}

// TestExplainLoaded: a program that loaded, or a kernel that failed, gets no explanation.
func TestExplainLoaded(t *testing.T) {
	r := regs(t)
	prog := program(t, "calls", "loop_kprobe")
	a := FromLoad(observation.ProgramLoad{Object: "calls.o", Program: prog.Name, Loaded: true}, Kernel{"5.10", "5.10.262"}, prog, r)
	if a.Explanation != "" || !a.Loaded {
		t.Errorf("loaded answer: %+v", a)
	}
	f := KernelFailed("calls.o", prog, Kernel{"5.10", "5.10.262"}, "kernel panic")
	Explain(&f, prog, r)
	if f.Loaded || f.Cause != observation.CauseKernelFailed || f.Explanation != "" || !strings.Contains(f.Reason, "kernel panic") {
		t.Errorf("failed kernel: %+v", f)
	}
}

func TestMentions(t *testing.T) {
	p := problem{names: []string{"#4", "bpf_probe_read"}}
	tests := []struct {
		reason string
		want   bool
	}{
		{"invalid func unknown#4", true},
		{"invalid func unknown#44", false},
		{"unknown#44 then unknown#4 here", true},
		{"unknown func bpf_probe_read#4", true},
		{"nothing", false},
	}
	for _, tt := range tests {
		if got := p.mentions(tt.reason); got != tt.want {
			t.Errorf("mentions(%q) = %v, want %v", tt.reason, got, tt.want)
		}
	}
}
