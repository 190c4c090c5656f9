package suites

import (
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// TestSettingsArch: BPFMATRIX_ARCH selects the kernels with a build for the architecture (all
// of kernels.yaml's amd64 ones by default) and the default guest time limit of its guests; a
// word that is no architecture is an error naming the variable. Nothing boots.
func TestSettingsArch(t *testing.T) {
	kc, err := vmimages.LoadConfig("../kernels.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var arm []string
	for _, e := range kc.Entries {
		if e.HasArch(observation.ArchARM64) {
			arm = append(arm, e.Name)
		}
	}
	if len(arm) == 0 {
		t.Fatal("kernels.yaml has no arm64 build to select")
	}
	for _, tt := range []struct {
		word    string
		arch    observation.Arch
		kernels []string
		err     string
	}{
		{"", observation.ArchAMD64, kc.Names(), ""},
		{"amd64", observation.ArchAMD64, kc.Names(), ""},
		{"arm64", observation.ArchARM64, arm, ""},
		{"riscv64", "", nil, `BPFMATRIX_ARCH: unknown architecture "riscv64"`},
	} {
		t.Run(tt.word, func(t *testing.T) {
			t.Setenv("BPFMATRIX_ARCH", tt.word)
			t.Setenv("BPFMATRIX_OUT", t.TempDir())
			for _, v := range []string{"BPFMATRIX_TIMEOUT", "BPFMATRIX_KERNELS_FILE", "BPFMATRIX_ARCHDIFFS"} {
				t.Setenv(v, "")
			}
			s, err := loadSettings()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.arch != tt.arch || !slices.Equal(s.kernels, tt.kernels) || s.harness.Timeout != harness.DefaultTimeout(tt.arch) || s.archDiffs == nil {
				t.Errorf("arch %q, kernels %v, timeout %v; want %q, %v, %v", s.arch, s.kernels, s.harness.Timeout, tt.arch, tt.kernels, harness.DefaultTimeout(tt.arch))
			}
		})
	}
}
