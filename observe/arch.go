package observe

import (
	"fmt"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// The three functions below are where the pipeline asks package vmimages about architectures.
// vmimages learns them on the data side's branch (kernels.yaml's arch key, Fetcher.Arch,
// Image.Arch, Config.SelectArch); until that branch is merged, the images this package gets are
// amd64 builds, and a run of another architecture stops before anything is fetched. At the
// merge the bodies become: cfg.SelectArch(arch, names); f.Arch = arch; img.Arch.

// selectEntries picks the kernels.yaml entries of the kernels named (every kernel when none is)
// for arch.
func selectEntries(cfg *vmimages.Config, arch observation.Arch, names []string) ([]vmimages.Entry, error) {
	if arch != observation.ArchAMD64 {
		return nil, fmt.Errorf("%s: this bpfmatrix fetches no %s kernel builds yet", cfg.Path, arch)
	}
	return cfg.Select(names)
}

// setFetchArch makes f fetch the builds of arch.
func setFetchArch(f *vmimages.Fetcher, arch observation.Arch) error {
	if arch != observation.ArchAMD64 {
		return fmt.Errorf("observe: this bpfmatrix fetches no %s kernel builds yet", arch)
	}
	return nil
}

// imageArch returns the architecture img is built for.
func imageArch(img vmimages.Image) observation.Arch {
	return observation.ArchAMD64
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
	if arch == "" || arch == observation.DefaultArch {
		return kernel + ".json"
	}
	return kernel + "-" + string(arch) + ".json"
}
