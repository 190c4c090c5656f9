package probe

import (
	"fmt"

	"github.com/bpfmatrix/bpfmatrix/internal/hostkernel"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// RunningKernel returns the running kernel's uname release string and the version parsed from
// it: the registry guide's running-kernel version detection. Debian's 5.10 and 6.1 kernels report
// ABI releases ("5.10.0-32-cloud-amd64") whose patch level is not the upstream one; the series
// is still right. The release is returned even when it does not parse.
func RunningKernel() (string, registry.Version, error) {
	release, err := hostkernel.Release()
	if err != nil {
		return "", registry.Version{}, err
	}
	v, err := registry.ParseVersion(release)
	if err != nil {
		return release, registry.Version{}, fmt.Errorf("running kernel: %w", err)
	}
	return release, v, nil
}
