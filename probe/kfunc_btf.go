package probe

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// kfuncTag is the BTF DECL_TAG that pahole (1.25 and later, with decl_tag_kfuncs) puts on every
// function a kernel registers in a kfunc id set. Kernels built before it (Debian's 5.10 and
// 6.1) carry none.
const kfuncTag = "bpf_kfunc"

// BTF kinds and the sizes of what follows each kind's 12-byte header, from the kernel's
// include/uapi/linux/btf.h. They are ABI and never change.
const (
	btfKindFunc    = 12
	btfKindDeclTag = 17
	btfHeaderMagic = 0xeB9F
)

// btfKindExtra returns the bytes that follow a type of kind with vlen members.
func btfKindExtra(kind, vlen uint32) (int, bool) {
	switch kind {
	case 2, 7, 8, 9, 10, 11, 12, 16, 18: // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
		return 0, true
	case 1, 14, 17: // INT, VAR, DECL_TAG
		return 4, true
	case 3: // ARRAY
		return 12, true
	case 4, 5, 15, 19: // STRUCT, UNION, DATASEC, ENUM64
		return int(vlen) * 12, true
	case 6, 13: // ENUM, FUNC_PROTO
		return int(vlen) * 8, true
	}
	return 0, false
}

// rawBTF is what scanBTF learns from raw BTF bytes without decoding every type: cilium/ebpf
// can iterate a spec's types, but that inflates all ~150,000 of vmlinux (0.8 s on the
// development host, several seconds in a TCG guest), where a scan of the bytes takes
// milliseconds.
type rawBTF struct {
	// tagged are the ids of the FUNCs a kfuncTag DECL_TAG with component_idx -1 points at.
	tagged []btf.TypeID
	// types is the number of types the blob defines (not counting void).
	types int
	// strs is its string section: a split BTF's string offsets continue after its base's, and
	// may point into them.
	strs []byte
}

// scanBTF walks raw BTF: a vmlinux blob (firstID 1, base nil) or a module's split BTF (firstID
// one past the base's last type id, base the scan of vmlinux, whose strings the module's names
// may use).
func scanBTF(raw []byte, firstID btf.TypeID, base *rawBTF) (*rawBTF, error) {
	if len(raw) < 24 {
		return nil, errors.New("BTF shorter than its header")
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if bo.Uint16(raw) != btfHeaderMagic {
		bo = binary.BigEndian
		if bo.Uint16(raw) != btfHeaderMagic {
			return nil, errors.New("not BTF: bad magic")
		}
	}
	hdrLen := int(bo.Uint32(raw[4:]))
	typeOff, typeLen := int(bo.Uint32(raw[8:])), int(bo.Uint32(raw[12:]))
	strOff, strLen := int(bo.Uint32(raw[16:])), int(bo.Uint32(raw[20:]))
	types, strs, err := btfSections(raw, hdrLen, typeOff, typeLen, strOff, strLen)
	if err != nil {
		return nil, err
	}
	out := &rawBTF{strs: strs}
	var baseStrs []byte
	if base != nil {
		baseStrs = base.strs
	}
	for pos := 0; pos < len(types); out.types++ {
		if pos+12 > len(types) {
			return nil, fmt.Errorf("BTF type %d truncated", int(firstID)+out.types)
		}
		nameOff, info, ref := bo.Uint32(types[pos:]), bo.Uint32(types[pos+4:]), bo.Uint32(types[pos+8:])
		kind, vlen := (info>>24)&0x1f, info&0xffff
		extra, ok := btfKindExtra(kind, vlen)
		if !ok || pos+12+extra > len(types) {
			return nil, fmt.Errorf("BTF type %d: bad kind %d or truncated", int(firstID)+out.types, kind)
		}
		if kind == btfKindDeclTag && int32(bo.Uint32(types[pos+12:])) == -1 &&
			splitString(baseStrs, strs, int(nameOff)) == kfuncTag {
			out.tagged = append(out.tagged, btf.TypeID(ref))
		}
		pos += 12 + extra
	}
	return out, nil
}

// btfSections returns the type and string sections of raw BTF, checked against its length.
func btfSections(raw []byte, hdrLen, typeOff, typeLen, strOff, strLen int) (types, strs []byte, err error) {
	if hdrLen < 24 || typeOff < 0 || typeLen < 0 || strOff < 0 || strLen < 0 ||
		hdrLen+typeOff+typeLen > len(raw) || hdrLen+strOff+strLen > len(raw) {
		return nil, nil, errors.New("BTF header points outside the blob")
	}
	return raw[hdrLen+typeOff : hdrLen+typeOff+typeLen], raw[hdrLen+strOff : hdrLen+strOff+strLen], nil
}

// splitString returns the string at off in a split BTF's string space: the base's strings
// first, then its own.
func splitString(base, own []byte, off int) string {
	if off < len(base) {
		return btfString(base, off)
	}
	return btfString(own, off-len(base))
}

// btfString returns the NUL-terminated string at off, or "" when off is outside strs.
func btfString(strs []byte, off int) string {
	if off < 0 || off >= len(strs) {
		return ""
	}
	end := off
	for end < len(strs) && strs[end] != 0 {
		end++
	}
	return string(strs[off:end])
}
