package vmimages

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/decompress"
	"github.com/bpfmatrix/bpfmatrix/internal/decompress/compresstest"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// fakeBzImage returns a file with the x86 boot protocol header that names release, padded with
// salt so that different test images have different sha256s.
func fakeBzImage(release, salt string) []byte {
	buf := make([]byte, 0x1000)
	copy(buf[0x202:], "HdrS")
	const verOff = 0x300 // from 0x200
	binary.LittleEndian.PutUint16(buf[0x20e:], verOff)
	copy(buf[0x200+verOff:], release+" (test@example.org) #1 SMP\x00")
	return append(buf, salt...)
}

// fakeModule returns a minimal ELF64 relocatable with a .modinfo section, which is all the
// extractor reads of a module without kfuncs.
func fakeModule(name, depends string) []byte { return fakeELFModule(name, depends, false, "") }

// fakeKfuncModule returns a module as fakeModule does, with a .BTF section and a symbol table
// that imports kfuncRegistration: a module that registers kfuncs.
func fakeKfuncModule(name, depends string) []byte {
	return fakeELFModule(name, depends, true, kfuncRegistration)
}

// fakeELFModule builds a module file: .modinfo, a .BTF section when withBTF, and a symbol table
// with one undefined symbol named imported unless it is empty.
func fakeELFModule(name, depends string, withBTF bool, imported string) []byte {
	type section struct {
		name    string
		typ     elf.SectionType
		data    []byte
		link    uint32
		entsize uint64
	}
	secs := []section{{name: ".modinfo", typ: elf.SHT_PROGBITS, data: []byte("license=GPL\x00depends=" + depends + "\x00name=" + name + "\x00")}}
	if withBTF {
		secs = append(secs, section{name: ".BTF", typ: elf.SHT_PROGBITS, data: []byte{0x9f, 0xeb, 1, 0}})
	}
	if imported != "" {
		var sym bytes.Buffer
		binary.Write(&sym, binary.LittleEndian, elf.Sym64{})
		binary.Write(&sym, binary.LittleEndian, elf.Sym64{Name: 1, Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_NOTYPE)})
		strtabIdx := uint32(len(secs) + 2) // after the null section and .symtab
		secs = append(secs, section{name: ".symtab", typ: elf.SHT_SYMTAB, data: sym.Bytes(), link: strtabIdx, entsize: 24},
			section{name: ".strtab", typ: elf.SHT_STRTAB, data: []byte("\x00" + imported + "\x00")})
	}
	shstrtab := []byte{0}
	names := make([]uint32, len(secs)+1)
	for i, sec := range secs {
		names[i] = uint32(len(shstrtab))
		shstrtab = append(append(shstrtab, sec.name...), 0)
	}
	names[len(secs)] = uint32(len(shstrtab))
	shstrtab = append(append(shstrtab, ".shstrtab"...), 0)
	secs = append(secs, section{name: ".shstrtab", typ: elf.SHT_STRTAB, data: shstrtab})

	const hdrSize = 64
	off := uint64(hdrSize)
	var body bytes.Buffer
	headers := []elf.Section64{{}}
	for i, sec := range secs {
		headers = append(headers, elf.Section64{Name: names[i], Type: uint32(sec.typ), Off: off, Size: uint64(len(sec.data)), Link: sec.link, Entsize: sec.entsize, Addralign: 1})
		body.Write(sec.data)
		off += uint64(len(sec.data))
	}
	hdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: off, Ehsize: hdrSize, Shentsize: 64, Shnum: uint16(len(headers)), Shstrndx: uint16(len(headers) - 1),
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, hdr)
	b.Write(body.Bytes())
	for _, h := range headers {
		binary.Write(&b, binary.LittleEndian, h)
	}
	return b.Bytes()
}

// buildDeb builds a .deb with dpkg-deb from files (path -> content) and returns its path.
func buildDeb(t *testing.T, pkg, version string, files map[string][]byte) string {
	t.Helper()
	testenv.NeedCommand(t, "dpkg-deb", "dpkg")
	root := t.TempDir()
	tree := filepath.Join(root, "tree")
	files["DEBIAN/control"] = []byte("Package: " + pkg + "\nVersion: " + version + "\nArchitecture: amd64\nMaintainer: test <test@example.org>\nDescription: test kernel package\n")
	for p, data := range files {
		full := filepath.Join(tree, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		testenv.WriteFile(t, full, data)
	}
	out := filepath.Join(root, debFileName(pkg, version, ""))
	cmd := exec.Command("dpkg-deb", "--root-owner-group", "-Zxz", "--build", tree, out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, msg)
	}
	return out
}

// layoutImage returns the files of a linux-image package as Debian ships them up to 6.18.
func layoutImage(t *testing.T, release, salt string, compressConsole bool) map[string][]byte {
	mod := "lib/modules/" + release + "/kernel/"
	console := fakeModule("virtio_console", "virtio,virtio_ring")
	consoleName := mod + "drivers/char/virtio_console.ko"
	if compressConsole {
		console, consoleName = compresstest.Compress(t, decompress.XZ, console), consoleName+".xz"
	}
	return map[string][]byte{
		"boot/vmlinuz-" + release:                   fakeBzImage(release, salt),
		"boot/config-" + release:                    []byte("CONFIG_VIRTIO=m\nCONFIG_VIRTIO_CONSOLE=m\n# CONFIG_FUNCTION_ERROR_INJECTION is not set\nCONFIG_BPF_LSM=y\n"),
		"boot/System.map-" + release:                []byte("ffffffff81000000 T _text\n"),
		mod + "drivers/virtio/virtio.ko":            fakeModule("virtio", ""),
		mod + "drivers/virtio/virtio_ring.ko":       fakeModule("virtio_ring", ""),
		mod + "drivers/virtio/virtio_pci.ko":        fakeModule("virtio_pci", "virtio_pci_helper,virtio_ring,virtio"),
		mod + "drivers/virtio/virtio_pci_helper.ko": fakeModule("virtio_pci_helper", "crc_builtin"),
		consoleName:                                   console,
		mod + "drivers/net/virtio_net.ko":             fakeModule("virtio_net", "virtio,virtio_ring"),
		"lib/modules/" + release + "/modules.builtin": []byte("kernel/lib/crc-builtin.ko\n"),
	}
}

func sha256Bytes(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
