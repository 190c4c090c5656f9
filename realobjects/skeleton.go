package realobjects

import (
	"bytes"
	"encoding/binary"
)

// emBPF is the ELF machine number of BPF objects (EM_BPF).
const emBPF = 247

// elfMagic starts every ELF file.
var elfMagic = []byte("\x7fELF")

// Embedded is a BPF ELF object found inside a larger file: a libbpf skeleton (bpftool gen
// skeleton puts the object's bytes in the tool's .rodata) or an object a Go program embeds.
type Embedded struct {
	Offset int64  // where the object starts in the file
	Data   []byte // the object's bytes, a slice of the file's
}

// FindEmbedded returns the BPF ELF objects inside data, in file order. A file that is itself a
// BPF object is returned as one object at offset 0. A candidate counts only when its header is
// a 64-bit relocatable EM_BPF ELF whose section header table and every section lie inside data:
// an object's length is recorded nowhere else, so it is the end of the furthest of them.
func FindEmbedded(data []byte) []Embedded {
	var out []Embedded
	for off := 0; off < len(data); {
		i := bytes.Index(data[off:], elfMagic)
		if i < 0 {
			break
		}
		start := off + i
		if n, ok := bpfELFSize(data[start:]); ok {
			out = append(out, Embedded{Offset: int64(start), Data: data[start : start+n : start+n]})
			off = start + n
			continue
		}
		off = start + 1
	}
	return out
}

// IsBPFObject reports whether data starts with a whole BPF ELF object (a .o file).
func IsBPFObject(data []byte) bool {
	_, ok := bpfELFSize(data)
	return ok
}

// ELF64 header and section header offsets (the ELF specification).
const (
	ehSize        = 64
	offType       = 16
	offMachine    = 18
	offShoff      = 40
	offEhsize     = 52
	offShentsize  = 58
	offShnum      = 60
	shSize        = 64
	offShType     = 4
	offShOffset   = 24
	offShSizeWord = 32
	shtNobits     = 8
	etRel         = 1
)

// bpfELFSize returns the length of the BPF ELF object at the start of b: the end of its section
// header table or of its furthest section, whichever is later. It reports false for anything
// else (another machine, a truncated or inconsistent header).
func bpfELFSize(b []byte) (int, bool) {
	if len(b) < ehSize || !bytes.HasPrefix(b, elfMagic) || b[4] != 2 /* ELFCLASS64 */ {
		return 0, false
	}
	var bo binary.ByteOrder
	switch b[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return 0, false
	}
	if bo.Uint16(b[offMachine:]) != emBPF || bo.Uint16(b[offType:]) != etRel ||
		bo.Uint16(b[offEhsize:]) != ehSize || bo.Uint16(b[offShentsize:]) != shSize {
		return 0, false
	}
	shoff, shnum := bo.Uint64(b[offShoff:]), uint64(bo.Uint16(b[offShnum:]))
	size := uint64(len(b))
	if shnum == 0 || shoff < ehSize || shoff > size || shnum*shSize > size-shoff {
		return 0, false
	}
	end := shoff + shnum*shSize
	for i := range shnum {
		sh := b[shoff+i*shSize:]
		if bo.Uint32(sh[offShType:]) == shtNobits {
			continue
		}
		o, n := bo.Uint64(sh[offShOffset:]), bo.Uint64(sh[offShSizeWord:])
		if o > size || n > size-o {
			return 0, false
		}
		end = max(end, o+n)
	}
	return int(end), true
}
