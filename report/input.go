package report

import (
	"fmt"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// FromDocument is the report's view of one kernel's observation document; name is the
// kernel's kernels.yaml name. A guest whose status is not "ok" becomes a failed kernel: its
// results, if any, stay in the document but are no evidence. source names the document in
// errors. The kernel of a document of another architecture than amd64 is named
// <name>-<arch> (observation.KernelLabel) and carries its Arch, so that the builds of one
// kernel name stay two columns and pair as twins (ArchDifferences).
func FromDocument(name, source string, d *observation.Document) (Kernel, error) {
	arch := observation.ArchOf(d)
	k := Kernel{
		Kernel:       verdict.Kernel{Name: observation.KernelLabel(name, arch), Results: d.Results, Facts: d.Facts},
		ImageFacts:   ImageFacts{Release: d.Kernel.Release},
		BTFHelperIDs: d.BTFHelperIDs,
	}
	if arch != observation.DefaultArch {
		k.Arch = arch // amd64 stays unsaid, as in the reports written before architectures
	}
	version := d.Kernel.Version
	if g := d.Guest; g != nil {
		k.BootSeconds, k.ProbeSeconds, k.Accel = g.BootSeconds, g.ProbeSeconds, g.Accel
		k.SHA256, k.Package, k.DebianVersion = g.SHA256, g.Package, g.DebianVersion
		k.ConsoleTail, k.Error = g.ConsoleTail, g.Error
		for _, a := range g.FailedAttempts {
			k.FailedAttempts = append(k.FailedAttempts, a.Error)
		}
		if g.KernelConfig != nil {
			k.Config = make(map[string]bool, len(g.KernelConfig))
			for _, opt := range g.KernelConfig {
				k.Config[opt] = true
			}
		}
		if g.Status != observation.StatusOK {
			k.Failed = true
			if k.Error == "" {
				k.Error = "guest status " + g.Status
			}
		}
		if g.Version != "" {
			version = g.Version // the package's upstream version; Debian's 5.10 and 6.1 unames are ABI names
		}
	}
	if version == "" {
		version = d.Kernel.Release
	}
	if version == "" {
		// A kernel that failed before its guest said anything: its name is all there is
		// (Debian entries are named by series, "6.12").
		version = name
	}
	v, err := registry.ParseVersion(version)
	if err != nil && !k.Failed {
		return Kernel{}, fmt.Errorf("observations: %s: kernel version: %w", source, err)
	}
	k.Version = v
	if k.Failed {
		k.Results = nil
	}
	return k, nil
}
