package realobjects

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzFindEmbedded checks that whatever the bytes, FindEmbedded returns only whole BPF objects
// lying inside the input, in order and without overlap, and never reads outside it.
func FuzzFindEmbedded(f *testing.F) {
	obj := bpfELF(binary.LittleEndian, emBPF, []byte("program text"), 64)
	f.Add(obj)
	f.Add(append(append([]byte("\x7fELF\x02\x01"), obj...), obj[:40]...))
	f.Add(bpfELF(binary.BigEndian, emBPF, nil, 0))
	f.Add(bpfELF(binary.LittleEndian, 62, []byte("x86"), 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		end := int64(0)
		for _, e := range FindEmbedded(data) {
			if e.Offset < end || e.Offset+int64(len(e.Data)) > int64(len(data)) {
				t.Fatalf("object at %d (%d bytes) overlaps the previous one or leaves the %d-byte input", e.Offset, len(e.Data), len(data))
			}
			if !bytes.Equal(e.Data, data[e.Offset:e.Offset+int64(len(e.Data))]) || !IsBPFObject(e.Data) {
				t.Fatalf("object at %d is not the input's bytes or not a BPF object", e.Offset)
			}
			if n, _ := bpfELFSize(e.Data); n != len(e.Data) {
				t.Fatalf("object at %d: %d bytes, its headers say %d", e.Offset, len(e.Data), n)
			}
			end = e.Offset + int64(len(e.Data))
		}
	})
}
