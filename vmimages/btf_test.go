package vmimages

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/decompress"
	"github.com/bpfmatrix/bpfmatrix/internal/decompress/compresstest"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// rawBTF encodes a small BTF blob holding one function of the given name.
func rawBTF(t *testing.T, fn string) []byte {
	t.Helper()
	u64 := &btf.Int{Name: "u64", Size: 8}
	f := &btf.Func{Name: fn, Type: &btf.FuncProto{Return: u64}, Linkage: btf.GlobalFunc}
	return testenv.MarshalBTF(t, f)
}

// section is one ELF section of elfWith.
type section struct {
	name string
	data []byte
}

// elfWith builds a minimal little-endian ELF64 whose only sections (besides the null section and
// the section names) are the given ones, in order.
func elfWith(t *testing.T, sections ...section) []byte {
	t.Helper()
	names := []byte{0}
	var body bytes.Buffer
	hdrs := []elf.Section64{{}}
	const ehsize = 64
	for _, s := range sections {
		hdrs = append(hdrs, elf.Section64{
			Name: uint32(len(names)), Type: uint32(elf.SHT_PROGBITS),
			Off: uint64(ehsize + body.Len()), Size: uint64(len(s.data)), Addralign: 1,
		})
		names = append(append(names, s.name...), 0)
		body.Write(s.data)
	}
	hdrs = append(hdrs, elf.Section64{
		Name: uint32(len(names)), Type: uint32(elf.SHT_STRTAB),
		Off: uint64(ehsize + body.Len()), Addralign: 1,
	})
	names = append(append(names, ".shstrtab"...), 0)
	hdrs[len(hdrs)-1].Size = uint64(len(names))
	body.Write(names)
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: uint64(ehsize + body.Len()), Ehsize: ehsize, Phentsize: 56, Shentsize: 64,
		Shnum: uint16(len(hdrs)), Shstrndx: uint16(len(hdrs) - 1),
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	var out bytes.Buffer
	for _, v := range []any{h, body.Bytes(), hdrs} {
		if err := binary.Write(&out, binary.LittleEndian, v); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// bzImage wraps a payload the way the kernel's boot header describes one: one setup sector,
// then protected-mode code, the payload 16 bytes into it, and some code after it.
func bzImage(payload []byte) []byte {
	img := make([]byte, 1024+16+len(payload)+64)
	img[0x1f1] = 1
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x206:], 0x20f)
	binary.LittleEndian.PutUint32(img[0x248:], 16)
	binary.LittleEndian.PutUint32(img[0x24c:], uint32(len(payload)))
	copy(img[1024+16:], payload)
	return img
}

// compress compresses data as the kernel's build does for format: a single gzip member, or a
// stream (lz4 in the legacy frame format) followed by the decompressed size (little-endian u32).
func compress(t *testing.T, format string, data []byte) []byte {
	t.Helper()
	var out []byte
	switch f := decompress.Format(format); f {
	case decompress.Gzip:
		return compresstest.Compress(t, f, data)
	case decompress.LZ4:
		out = compresstest.CompressLZ4Legacy(t, data)
	default:
		out = compresstest.Compress(t, f, data)
	}
	return binary.LittleEndian.AppendUint32(out, uint32(len(data)))
}

func writeImage(t *testing.T, img []byte) string {
	t.Helper()
	p := testenv.WriteFile(t, filepath.Join(t.TempDir(), "vmlinuz"), img)
	return p
}

// refusesImage writes img as a kernel image and checks that VmlinuzBTF refuses it with an error
// that names the file and says want.
func refusesImage(t *testing.T, img []byte, want string) {
	t.Helper()
	path := writeImage(t, img)
	_, err := VmlinuzBTF(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
		t.Errorf("VmlinuzBTF = %v, want an error naming %s and containing %q", err, path, want)
	}
}

func TestVmlinuzBTFFormats(t *testing.T) {
	vmlinux := elfWith(t, section{".text", make([]byte, 100)}, section{".BTF", rawBTF(t, "bpf_probe_me")})
	for _, format := range []string{"gzip", "xz", "zstd", "lz4"} {
		t.Run(format, func(t *testing.T) {
			path := writeImage(t, bzImage(compress(t, format, vmlinux)))
			spec, err := VmlinuzBTF(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			var fn *btf.Func
			if err := spec.TypeByName("bpf_probe_me", &fn); err != nil {
				t.Errorf("the image's BTF lacks its function: %v", err)
			}
		})
	}
}

func TestVmlinuzBTFErrors(t *testing.T) {
	withBTF := elfWith(t, section{".BTF", rawBTF(t, "f")})
	oldProtocol := bzImage(compress(t, "gzip", withBTF))
	binary.LittleEndian.PutUint16(oldProtocol[0x206:], 0x207)
	pastEnd := bzImage([]byte{0x1f, 0x8b})
	binary.LittleEndian.PutUint32(pastEnd[0x24c:], 1<<20)
	tests := []struct {
		name  string
		image func(t *testing.T) []byte
		want  string // in the error
	}{
		{"no setup header", func(*testing.T) []byte { return make([]byte, 4096) }, "neither an x86 bzImage"},
		{"boot protocol before 2.08", func(*testing.T) []byte { return oldProtocol }, "predates payload_offset"},
		{"payload past the end", func(*testing.T) []byte { return pastEnd }, "outside the"},
		{"unknown compression", func(*testing.T) []byte { return bzImage([]byte("plain text, no magic")) }, "no compression format"},
		{"bzip2", func(*testing.T) []byte { return bzImage([]byte("BZh91AY&SY")) }, "bzip2-compressed"},
		{"not an ELF", func(t *testing.T) []byte { return bzImage(compress(t, "gzip", []byte("not an ELF file at all"))) }, "vmlinux"},
		{"no .BTF section", func(t *testing.T) []byte {
			return bzImage(compress(t, "gzip", elfWith(t, section{".text", []byte{0xc3}})))
		}, "no .BTF section"},
		{"broken BTF", func(t *testing.T) []byte {
			return bzImage(compress(t, "gzip", elfWith(t, section{".BTF", []byte("not BTF")})))
		}, ".BTF"},
		{"size trailer disagrees", func(t *testing.T) []byte {
			p := compress(t, "zstd", withBTF)
			binary.LittleEndian.PutUint32(p[len(p)-4:], uint32(len(withBTF)+1))
			return bzImage(p)
		}, "its trailer says"},
		{"corrupt xz stream", func(t *testing.T) []byte {
			p := compress(t, "xz", withBTF)
			p[len(p)/2] ^= 0xff
			return bzImage(p)
		}, "xz payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refusesImage(t, tt.image(t), tt.want)
		})
	}
}

func TestImageBTFNotCached(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	_, err := ImageBTF(context.Background(), t.TempDir(), sum)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), shortSum(sum)) {
		t.Errorf("ImageBTF of an image not in the cache = %v, want fs.ErrNotExist naming it", err)
	}
	if _, err := ImageBTF(context.Background(), t.TempDir(), "vmlinuz"); err == nil {
		t.Error("ImageBTF accepted a name that is no sha256")
	}
}

// TestImageBTFCached reads the BTF of the built-in pins of 5.10 (an lz4 payload) and 7.3 (zstd),
// the kernels CI boots, from the user's cache (see cachedBuiltin).
func TestImageBTFCached(t *testing.T) {
	for _, name := range []string{"5.10", "7.3"} {
		t.Run(name, func(t *testing.T) {
			cacheDir, st := cachedBuiltin(t, name)
			spec, err := ImageBTF(context.Background(), cacheDir, st.Locked.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("kernel %s: __BPF_FUNC_MAX_ID = %d", name, helperIDsEnd(t, spec))
		})
	}
}

// helperIDsEnd checks what the BTF of every kernel with BPF has, the enum of helper ids whose
// last value is the end marker, and returns that marker's value.
func helperIDsEnd(t *testing.T, spec *btf.Spec) uint64 {
	t.Helper()
	var ids *btf.Enum
	if err := spec.TypeByName("bpf_func_id", &ids); err != nil {
		t.Fatal(err)
	}
	last := ids.Values[len(ids.Values)-1]
	if last.Name != "__BPF_FUNC_MAX_ID" || int(last.Value) != len(ids.Values)-1 {
		t.Errorf("enum bpf_func_id ends with %s = %d after %d values", last.Name, last.Value, len(ids.Values))
	}
	return last.Value
}

// cachedBuiltin returns the user's cache and the status of the built-in kernel name, whose
// pinned image is cached: when it is not, the test fetches it if BPFMATRIX_TEST_NETWORK asks
// for that (go test runs packages in parallel, so the tests that would fetch it may not have
// run yet; the built-in lock is not written), and otherwise skips, or fails under CI.
func cachedBuiltin(t *testing.T, name string) (string, KernelStatus) {
	t.Helper()
	return cachedBuiltinArch(t, name, observation.ArchAMD64)
}

// cachedBuiltinArch is cachedBuiltin for the build of architecture arch.
func cachedBuiltinArch(t *testing.T, name string, arch observation.Arch) (string, KernelStatus) {
	t.Helper()
	cacheDir, err := DefaultCacheDir()
	testenv.Need(t, err, "set HOME or XDG_CACHE_HOME")
	cfg, err := LoadConfig(BuiltinKernelsFile)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := cfg.SelectArch(arch, []string{name})
	if err != nil {
		t.Fatal(err)
	}
	sts, err := StatusArch(cacheDir, arch, entries)
	if err != nil {
		t.Fatal(err)
	}
	if !sts[0].Cached && testenv.Network() {
		if _, err := (&Fetcher{CacheDir: cacheDir, Arch: arch}).Fetch(context.Background(), entries); err != nil {
			t.Fatalf("fetching %s (%s): %v", name, arch, err)
		}
		if sts, err = StatusArch(cacheDir, arch, entries); err != nil {
			t.Fatal(err)
		}
	}
	if !sts[0].Cached {
		testenv.Need(t, errors.New("kernel "+name+"'s pinned "+string(arch)+" image is not cached in "+cacheDir),
			"bpfmatrix kernels fetch --arch "+string(arch)+" "+name+", or set "+testenv.EnvNetwork+"=1")
	}
	return cacheDir, sts[0]
}
