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
// extractor reads of a kernel module.
func fakeModule(name, depends string) []byte {
	modinfo := []byte("license=GPL\x00depends=" + depends + "\x00name=" + name + "\x00")
	shstrtab := []byte("\x00.modinfo\x00.shstrtab\x00")
	const hdrSize = 64
	modOff := uint64(hdrSize)
	strOff := modOff + uint64(len(modinfo))
	shOff := strOff + uint64(len(shstrtab))
	var b bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shOff, Ehsize: hdrSize, Shentsize: 64, Shnum: 3, Shstrndx: 2,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	binary.Write(&b, binary.LittleEndian, hdr)
	b.Write(modinfo)
	b.Write(shstrtab)
	for _, s := range []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: modOff, Size: uint64(len(modinfo)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(shstrtab)), Addralign: 1},
	} {
		binary.Write(&b, binary.LittleEndian, s)
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
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(root, debFileName(pkg, version))
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
