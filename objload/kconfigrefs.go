package objload

import (
	"reflect"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// kconfigRefs finds the instructions of insns that load a .kconfig extern: their indexes with the
// extern's offset in the map, and the .kconfig map's spec (nil when there is none).
//
// cilium/ebpf keeps both only in the instructions' metadata, under a key of an unexported type,
// and always reads the values from the running kernel's configuration files; nothing else
// says which instruction reads which extern. So the metadata is read here by reflection: an
// element whose value is a pointer to a struct kconfigMeta of package ebpf, with fields Map
// (*ebpf.MapSpec) and Offset (uint32). Should cilium/ebpf change that, no instruction is found
// and the externs are left to cilium/ebpf, which the answer then notes.
func kconfigRefs(insns asm.Instructions) (*ebpf.MapSpec, map[int]uint32) {
	var spec *ebpf.MapSpec
	refs := map[int]uint32{}
	for i := range insns {
		m, off, ok := kconfigMeta(&insns[i].Metadata)
		if !ok || spec != nil && m != spec {
			continue
		}
		spec, refs[i] = m, off
	}
	return spec, refs
}

// kconfigMeta reads the .kconfig metadata of one instruction.
func kconfigMeta(md *asm.Metadata) (*ebpf.MapSpec, uint32, bool) {
	mt := reflect.ValueOf(md).Elem()
	if mt.NumField() != 1 || mt.Field(0).Kind() != reflect.Pointer {
		return nil, 0, false
	}
	for e := exposed(mt.Field(0)); !e.IsNil(); {
		el := e.Elem()
		val, next := el.FieldByName("value"), el.FieldByName("next")
		if !val.IsValid() || !next.IsValid() {
			return nil, 0, false
		}
		if v := exposed(val); !v.IsNil() {
			if m, off, ok := asKconfigMeta(v.Elem()); ok {
				return m, off, true
			}
		}
		e = exposed(next)
	}
	return nil, 0, false
}

// asKconfigMeta reads v when it is a *ebpf.kconfigMeta.
func asKconfigMeta(v reflect.Value) (*ebpf.MapSpec, uint32, bool) {
	t := v.Type()
	if t.Kind() != reflect.Pointer || t.Elem().Name() != "kconfigMeta" || t.Elem().PkgPath() != "github.com/cilium/ebpf" || v.IsNil() {
		return nil, 0, false
	}
	s := v.Elem()
	m, off := s.FieldByName("Map"), s.FieldByName("Offset")
	if !m.IsValid() || !off.IsValid() || off.Kind() != reflect.Uint32 {
		return nil, 0, false
	}
	spec, ok := exposed(m).Interface().(*ebpf.MapSpec)
	return spec, uint32(off.Uint()), ok && spec != nil
}

// exposed returns an addressable unexported field as a value whose Interface may be called.
func exposed(f reflect.Value) reflect.Value {
	if !f.CanAddr() {
		return f
	}
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
}
