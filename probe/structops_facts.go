package probe

import (
	"github.com/bpfmatrix/bpfmatrix/kernelbtf"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// structOpsFacts turns the kinds the kernel's BTF registers into the facts' record of them:
// every member of each kind, not only the members a variant is loaded at, so that sync can tell
// which kernels have a member no program was probed at.
func structOpsFacts(kinds []kernelbtf.StructOpsKind) []observation.StructOpsKind {
	out := make([]observation.StructOpsKind, 0, len(kinds))
	for _, k := range kinds {
		members := make([]string, 0, len(k.Members))
		for _, m := range k.Members {
			members = append(members, m.Name)
		}
		out = append(out, observation.StructOpsKind{Kind: k.Name, Module: k.Module, Members: members})
	}
	return out
}
