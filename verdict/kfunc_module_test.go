package verdict

import (
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// TestKfuncPresentModule: a module's kfunc that a kernel does not list is absent only when the
// guest loaded the module; a module the image did not ship, or the kernel refused, is no
// evidence about the kernel.
func TestKfuncPresentModule(t *testing.T) {
	tagged := []observation.Kfunc{{Name: "bpf_task_acquire", Tagged: true}}
	withCT := append([]observation.Kfunc{{Name: "bpf_ct_release", Module: "nf_conntrack", Tagged: true}}, tagged...)
	tests := []struct {
		name          string
		kfuncs        []observation.Kfunc
		modules       []observation.ModuleLoad
		module        string
		present, isOK bool
	}{
		{"listed", withCT, []observation.ModuleLoad{{Name: "nf_conntrack"}}, "nf_conntrack", true, true},
		{"module loaded, not listed", tagged, []observation.ModuleLoad{{Name: "nf_conntrack"}}, "nf_conntrack", false, true},
		{"module not shipped", tagged, nil, "nf_conntrack", false, false},
		{"module refused", tagged, []observation.ModuleLoad{{Name: "nf_conntrack", Error: "EEXIST"}}, "nf_conntrack", false, false},
		{"vmlinux kfunc not listed", tagged, nil, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := Kernel{Name: "7.3"}
			k.Facts.Kfuncs, k.Facts.Modules = tt.kfuncs, tt.modules
			name := "bpf_ct_release"
			if tt.module == "" {
				name = "bpf_nonesuch"
			}
			present, ok := KfuncPresent(k, name, tt.module)
			if present != tt.present || ok != tt.isOK {
				t.Errorf("KfuncPresent = %v, %v; want %v, %v", present, ok, tt.present, tt.isOK)
			}
		})
	}
}
