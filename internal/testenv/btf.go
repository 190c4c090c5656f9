package testenv

import (
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
