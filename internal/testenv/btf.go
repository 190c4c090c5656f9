package testenv

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// MarshalBTF returns raw little-endian BTF holding types, as a vmlinux on x86_64 carries it: the
// kernels' BTF that tests of BTF readers make up.
func MarshalBTF(t testing.TB, types ...btf.Type) []byte {
	t.Helper()
	b := Must(btf.NewBuilder(types, nil))(t)
	return Must(b.Marshal(nil, &btf.MarshalOptions{Order: binary.LittleEndian}))(t)
}

// BTFSpec encodes types as MarshalBTF does and reads them back, as a kernel's BTF is read, so
// that tests of what is found in BTF build it from types instead of needing a kernel image.
func BTFSpec(t testing.TB, types ...btf.Type) *btf.Spec {
	t.Helper()
	return Must(btf.LoadSpecFromReader(bytes.NewReader(MarshalBTF(t, types...))))(t)
}
