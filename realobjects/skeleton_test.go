package realobjects

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// bpfELF builds a minimal relocatable ELF64 for machine, in byte order bo: the header, a
// PROGBITS section of body, a NOBITS section claiming nobits bytes (which take no room in the
// file), then the section header table (null, progbits, nobits).
func bpfELF(bo binary.ByteOrder, machine uint16, body []byte, nobits uint64) []byte {
	var b bytes.Buffer
	hdr := make([]byte, ehSize)
	copy(hdr, elfMagic)
	hdr[4], hdr[5], hdr[6] = 2, 1, 1
	if bo == binary.ByteOrder(binary.BigEndian) {
		hdr[5] = 2
	}
	bo.PutUint16(hdr[offType:], etRel)
	bo.PutUint16(hdr[offMachine:], machine)
	shoff := uint64(ehSize + len(body))
	bo.PutUint64(hdr[offShoff:], shoff)
	bo.PutUint16(hdr[offEhsize:], ehSize)
	bo.PutUint16(hdr[offShentsize:], shSize)
	bo.PutUint16(hdr[offShnum:], 3)
	b.Write(hdr)
	b.Write(body)
	sh := make([]byte, 3*shSize)
	bo.PutUint32(sh[shSize+offShType:], 1) // PROGBITS
	bo.PutUint64(sh[shSize+offShOffset:], ehSize)
	bo.PutUint64(sh[shSize+offShSizeWord:], uint64(len(body)))
	bo.PutUint32(sh[2*shSize+offShType:], shtNobits)
	bo.PutUint64(sh[2*shSize+offShOffset:], shoff)
	bo.PutUint64(sh[2*shSize+offShSizeWord:], nobits)
	b.Write(sh)
	return b.Bytes()
}

func TestFindEmbedded(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	obj := bpfELF(le, emBPF, []byte("program text"), 1<<20)
	objBE := bpfELF(be, emBPF, []byte("other text!"), 0)
	x86 := bpfELF(le, 62, []byte("host code"), 0)
	junk := []byte("\x7fELF but not a header ... \x7fEL")
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	// A section pointing past the end of the file makes the candidate invalid.
	broken := bpfELF(le, emBPF, []byte("xx"), 0)
	le.PutUint64(broken[ehSize+2+shSize+offShSizeWord:], 1<<40)
	for _, tc := range []struct {
		name string
		data []byte
		want []int64 // offsets
		objs [][]byte
	}{
		{"object alone", obj, []int64{0}, [][]byte{obj}},
		{"inside a host ELF", cat(x86, junk, obj, junk), []int64{int64(len(x86) + len(junk))}, [][]byte{obj}},
		{"two back to back", cat(junk[:3], obj, objBE), []int64{3, int64(3 + len(obj))}, [][]byte{obj, objBE}},
		{"truncated", cat(junk, obj[:len(obj)-1]), nil, nil},
		{"other machine", cat(x86, x86), nil, nil},
		{"section past the end", cat(junk, broken), nil, nil},
		{"empty", nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FindEmbedded(tc.data)
			if len(got) != len(tc.want) {
				t.Fatalf("found %d objects, want %d", len(got), len(tc.want))
			}
			for i, e := range got {
				if e.Offset != tc.want[i] || !bytes.Equal(e.Data, tc.objs[i]) {
					t.Errorf("object %d: offset %d, %d bytes; want offset %d, %d bytes", i, e.Offset, len(e.Data), tc.want[i], len(tc.objs[i]))
				}
			}
		})
	}
}

// TestFindEmbeddedSkeleton builds what bpftool's skeletons make: a BPF object compiled by
// clang, embedded as a byte array in a host object file's .rodata, and finds it there.
func TestFindEmbeddedSkeleton(t *testing.T) {
	clang := testenv.NeedCommand(t, "clang", "clang")
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog.c")
	write(t, prog, "#define SEC(s) __attribute__((section(s), used))\n"+
		"SEC(\"xdp\") int pass(void *ctx) { return 2; }\nchar _license[] SEC(\"license\") = \"GPL\";\n")
	run(t, clang, "-O2", "-g", "-target", "bpf", "-c", prog, "-o", filepath.Join(dir, "prog.o"))
	obj, err := os.ReadFile(filepath.Join(dir, "prog.o"))
	if err != nil {
		t.Fatal(err)
	}
	var src bytes.Buffer
	src.WriteString("const unsigned char skel_data[] = {")
	for _, c := range obj {
		src.WriteString(strconv.Itoa(int(c)) + ",")
	}
	src.WriteString("};\nconst char *tool_name = \"tool\";\nint main(void) { return skel_data[5]; }\n")
	write(t, filepath.Join(dir, "tool.c"), src.String())
	run(t, clang, "-O1", "-c", filepath.Join(dir, "tool.c"), "-o", filepath.Join(dir, "tool.o"))
	host, err := os.ReadFile(filepath.Join(dir, "tool.o"))
	if err != nil {
		t.Fatal(err)
	}
	got := FindEmbedded(host)
	if len(got) != 1 || !bytes.Equal(got[0].Data, obj) {
		t.Fatalf("found %d objects in the host object, want the %d-byte BPF object once", len(got), len(obj))
	}
	if !IsBPFObject(obj) || IsBPFObject(host) {
		t.Errorf("IsBPFObject: BPF object %v, host object %v; want true, false", IsBPFObject(obj), IsBPFObject(host))
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	testenv.WriteFile(t, path, []byte(s))
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// bpfELFLE is a little-endian BPF object of body.
func bpfELFLE(body []byte) []byte { return bpfELF(binary.LittleEndian, emBPF, body, 0) }

func itoa64(i int64) string { return strconv.FormatInt(i, 10) }

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }
