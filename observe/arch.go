package observe

import (
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// selectEntries picks the kernels.yaml entries of the kernels named (every kernel when none is)
// for arch.
func selectEntries(cfg *vmimages.Config, arch observation.Arch, names []string) ([]vmimages.Entry, error) {
	return cfg.SelectArch(arch, names)
}

// docArch returns the value of observation.Image.Arch for a kernel of arch: empty for amd64, so
// that amd64 documents stay as they were before architectures were told apart.
func docArch(arch observation.Arch) observation.Arch {
	if arch == observation.DefaultArch {
		return ""
	}
	return arch
}

// FileName returns the name of kernel's document in an observations directory: <name>.json for
// amd64 (as before architectures were told apart), <name>-<arch>.json for another architecture,
// so that the amd64 and arm64 documents of one kernel name sit side by side in one --out.
func FileName(kernel string, arch observation.Arch) string {
	return observation.KernelLabel(kernel, arch) + ".json"
}
