package objload

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/hostkernel"
	"github.com/bpfmatrix/bpfmatrix/internal/kconfig"
)

// kconfigDefaults gives the .kconfig externs prog reads their values and says in words where they
// came from: from the configuration at path, or, with no path, from the running kernel itself
// when only its own facts are asked (LINUX_KERNEL_VERSION, ...), into a .kconfig map made here,
// which prog's loads of them are pointed at (the returned map, to be closed after the load).
// With no path and options of the build asked, cilium/ebpf reads the running kernel's
// configuration at its usual places (/boot/config-RELEASE, /proc/config.gz), which a guest
// lacks. No note and no map when prog reads none.
func kconfigDefaults(prog *ebpf.ProgramSpec, path string) (string, *ebpf.Map, error) {
	spec, refs := kconfigRefs(prog.Instructions)
	if spec == nil {
		return "", nil, nil
	}
	ds, ok := spec.Value.(*btf.Datasec)
	if !ok {
		return "", nil, prepareError(".kconfig: the map's value is no datasec")
	}
	from := "the kernel's configuration " + path
	var cfg kconfig.Config
	if path != "" {
		var err error
		if cfg, err = kconfig.Read(path); err != nil {
			return "", nil, prepareError(".kconfig: %w", err)
		}
	}
	data, values, err := kconfigData(ds, cfg)
	switch {
	case err != nil && path == "":
		// Options of the build are asked and no configuration was given: cilium/ebpf reads
		// the running kernel's at its usual places (/boot/config-RELEASE, /proc/config.gz).
		var names []string
		for _, vsi := range ds.Vars {
			names = append(names, vsi.Type.TypeName())
		}
		return ".kconfig externs " + strings.Join(names, ", ") + " from the running kernel's configuration (cilium/ebpf)", nil, nil
	case err != nil:
		return "", nil, err
	case path == "":
		// Only what the running kernel says itself (LINUX_KERNEL_VERSION, ...): filled here,
		// as cilium/ebpf refuses some of their declarations (a __u32 typedef).
		from = "the running kernel"
	}
	cpy := spec.Copy()
	cpy.Contents = []ebpf.MapKV{{Key: uint32(0), Value: data}}
	m, err := ebpf.NewMap(cpy)
	if err != nil {
		return "", nil, fmt.Errorf("map .kconfig: %w", err)
	}
	for i, off := range refs {
		ins := prog.Instructions[i]
		n := asm.LoadMapValue(ins.Dst, 0, off).WithSymbol(ins.Symbol()).WithSource(ins.Source())
		n = btf.WithFuncMetadata(n, btf.FuncMetadata(&ins))
		if err := n.AssociateMap(m); err != nil {
			m.Close()
			return "", nil, prepareError(".kconfig: %w", err)
		}
		prog.Instructions[i] = n
	}
	return ".kconfig externs " + strings.Join(values, ", ") + " from " + from, m, nil
}

// kconfigData is the value of the .kconfig map ds describes, from the configuration cfg (nil:
// none, only what the running kernel says of itself), and the values in words.
func kconfigData(ds *btf.Datasec, cfg kconfig.Config) ([]byte, []string, error) {
	data := make([]byte, ds.Size)
	var values []string
	for _, vsi := range ds.Vars {
		v, ok := vsi.Type.(*btf.Var)
		if !ok || uint64(vsi.Offset)+uint64(vsi.Size) > uint64(len(data)) {
			return nil, nil, prepareError(".kconfig: a malformed extern")
		}
		value, err := kconfigValue(v.Name, cfg)
		if err != nil {
			return nil, nil, err
		}
		if err := putKconfig(data[vsi.Offset:vsi.Offset+vsi.Size], v.Type, value); err != nil {
			return nil, nil, prepareError(".kconfig: %s: %w", v.Name, err)
		}
		values = append(values, v.Name+"="+value)
	}
	return data, values, nil
}

// kconfigValue is the value of one extern, as a configuration file writes it.
func kconfigValue(name string, cfg kconfig.Config) (string, error) {
	switch name {
	case "LINUX_KERNEL_VERSION":
		release, err := hostkernel.Release()
		if err != nil {
			return "", prepareError(".kconfig: %s: %w", name, err)
		}
		return strconv.FormatUint(uint64(versionCode(release)), 10), nil
	case "LINUX_HAS_SYSCALL_WRAPPER":
		// Every x86-64 and arm64 kernel since 4.17 wraps its syscalls.
		return "1", nil
	}
	value, ok := cfg[name]
	if !ok {
		return "", prepareError(".kconfig: %s is not in the kernel's configuration", name)
	}
	return value, nil
}

// versionCode is KERNEL_VERSION(a, b, c) of a release "a.b.c...", c capped at 255 as the
// kernel caps it.
func versionCode(release string) uint32 {
	var parts [3]uint32
	for i, f := range strings.SplitN(release, ".", 3) {
		end := strings.IndexFunc(f, func(r rune) bool { return r < '0' || r > '9' })
		if end >= 0 {
			f = f[:end]
		}
		n, _ := strconv.ParseUint(f, 10, 32)
		parts[i] = uint32(n)
	}
	return parts[0]<<16 | parts[1]<<8 | min(parts[2], 255)
}

// putKconfig writes value into dst as typ holds it, as libbpf does: a tristate as 0, 1, 2 (or
// 'n', 'y', 'm' in a char), a number as an integer, a string into a char array.
func putKconfig(dst []byte, typ btf.Type, value string) error {
	switch t := btf.UnderlyingType(typ).(type) {
	case *btf.Array:
		if len(value) >= len(dst) {
			return fmt.Errorf("string %q does not fit %d bytes", value, len(dst))
		}
		copy(dst, value)
		return nil
	case *btf.Int:
		if t.Encoding == btf.Char && len(value) == 1 {
			dst[0] = value[0]
			return nil
		}
		return putInteger(dst, value)
	case *btf.Enum:
		return putInteger(dst, value)
	}
	return fmt.Errorf("type %s cannot hold a configuration value", typ)
}

// putInteger writes a tristate or number into dst (1, 2, 4 or 8 bytes, the host's order).
func putInteger(dst []byte, value string) error {
	var n uint64
	switch value {
	case "y":
		n = 1
	case "m":
		n = 2
	case "n":
		n = 0
	default:
		v, err := strconv.ParseInt(value, 0, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", value)
		}
		n = uint64(v)
	}
	switch len(dst) {
	case 1:
		dst[0] = byte(n)
	case 2:
		binary.NativeEndian.PutUint16(dst, uint16(n))
	case 4:
		binary.NativeEndian.PutUint32(dst, uint32(n))
	case 8:
		binary.NativeEndian.PutUint64(dst, n)
	default:
		return fmt.Errorf("an integer of %d bytes", len(dst))
	}
	return nil
}
