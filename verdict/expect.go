package verdict

import (
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// Expectation answers, for one kernel, whether it is expected to offer a function at a place
// when that expectation is not the registry's: kind and name as registry.ArchDifference names
// the function (a helper's C name, bpf_map_lookup_elem), where a program type or an attach
// point key. ok is false where the registry's claim stands.
type Expectation func(kind registry.FunctionKind, name, where string) (offered, ok bool)

// ArchExpectation is the Expectation of a kernel of release built for arch: the answers
// archdiffs records for that release and architecture (ArchDiffs.At, which also answers an
// attach point from a difference recorded up its chain), where its kernels answer otherwise than
// amd64's, whose facts the registry states. It is nil, the registry's claims unchanged, for
// amd64 (or an empty arch, as amd64 documents leave it) and for a table without differences for
// that release: the verdicts of the matrix suite
// and of verify both take it from here, so that they apply one table alike.
func ArchExpectation(t *registry.ArchDiffs, release registry.Version, arch observation.Arch) Expectation {
	if t == nil || arch == "" || arch == observation.DefaultArch || len(t.On(registry.KindHelper, release, arch))+len(t.On(registry.KindKfunc, release, arch)) == 0 {
		return nil
	}
	return func(kind registry.FunctionKind, name, where string) (bool, bool) {
		d, ok, err := t.At(kind, name, where, release, arch)
		if err != nil || !ok {
			return false, false
		}
		return d.Offered(), true
	}
}

// declaredFor is what k is expected to do with the function of kind and name at where: its
// Expect's answer when it has one there, else the registry's (registryClaim).
func declaredFor(k Kernel, kind registry.FunctionKind, name, where string, registryClaim bool) bool {
	if k.Expect == nil {
		return registryClaim
	}
	if offered, ok := k.Expect(kind, name, where); ok {
		return offered
	}
	return registryClaim
}
