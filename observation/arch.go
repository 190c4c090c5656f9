package observation

import "fmt"

// Arch is a CPU architecture a kernel is built for, as Debian names it: the word that selects
// the kernel builds to fetch, the QEMU machine to boot them on and the agent build to run there.
// It is declared here, in the leaf both the data side (images, kernels.yaml) and the guest side
// (harness, observations) import, and nowhere else.
type Arch string

// The architectures bpfmatrix fetches, boots and probes.
const (
	// ArchAMD64 is x86-64.
	ArchAMD64 Arch = "amd64"
	// ArchARM64 is 64-bit ARM (aarch64).
	ArchARM64 Arch = "arm64"
)

// DefaultArch is the architecture of a document, kernels.yaml entry or command that names none:
// everything recorded before architectures were told apart was amd64.
const DefaultArch = ArchAMD64

// ParseArch returns the architecture word s names. An empty or unknown word is an error: a
// caller that allows the word to be omitted substitutes DefaultArch itself, so that a typo is
// never read as amd64.
func ParseArch(s string) (Arch, error) {
	known := []Arch{ArchAMD64, ArchARM64}
	for _, a := range known {
		if string(a) == s {
			return a, nil
		}
	}
	if s == "" {
		return "", fmt.Errorf("no architecture given (want one of %v)", known)
	}
	return "", fmt.Errorf("unknown architecture %q (want one of %v)", s, known)
}

// KernelLabel is how one build of a kernels.yaml kernel is named where the builds of several
// architectures meet (observation files, report columns): the kernel's name for amd64, as before
// architectures were told apart, and <name>-<arch> for another architecture ("6.12-arm64").
func KernelLabel(kernel string, arch Arch) string {
	if arch == "" || arch == DefaultArch {
		return kernel
	}
	return kernel + "-" + string(arch)
}

// ArchOf returns the architecture a document's kernel was built for: its guest block's, and
// DefaultArch when the document names none (amd64 documents, host probes).
func ArchOf(d *Document) Arch {
	if d == nil || d.Guest == nil || d.Guest.Arch == "" {
		return DefaultArch
	}
	return d.Guest.Arch
}
