package probe

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// vmlinuxBTF is where the kernel publishes its own BTF (CONFIG_DEBUG_INFO_BTF, every Debian
// kernel since 5.10).
const vmlinuxBTF = "/sys/kernel/btf/vmlinux"

// kernelBTF holds what the probe needs from the kernel's BTF, read once: the helper ids and the
// program and attach type names the kernel defines, and a way to resolve attach targets.
type kernelBTF struct {
	spec *btf.Spec
	// raw is the vmlinux BTF as read, when it was read from the kernel.
	raw []byte
	// helperIDs are the values of enum bpf_func_id other than BPF_FUNC_unspec and
	// __BPF_FUNC_MAX_ID: the ids this kernel knows.
	helperIDs []int
	// maxID is __BPF_FUNC_MAX_ID, one past the kernel's last helper id.
	maxID int
	// helperNames maps an id to its enum name without BPF_FUNC_, for ids the registry lacks.
	helperNames map[int]string
	// helpers are the kernel's definitions of its helpers, in id order.
	helpers     []observation.BTFHelper
	progTypes   map[string]uint32 // BPF_PROG_TYPE_* names
	attachTypes map[string]uint32 // BPF_* names of enum bpf_attach_type
	// kfuncs are vmlinux's tagged kfuncs and kfuncIDs their ids, read by vmlinuxKfuncs when a
	// struct_ops member needs a kfunc to release a reference (release.go).
	kfuncsOnce sync.Once
	kfuncs     []*btf.Func
	kfuncIDs   []btf.TypeID
}

// readKernelBTF parses the running kernel's BTF. A kernel without BTF yields (nil, nil): probes
// of variants that need an attach target then report that as their reason.
func readKernelBTF() (*kernelBTF, error) {
	if _, err := os.Stat(vmlinuxBTF); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	// Read once: the kfunc discovery scans the same bytes for its tags.
	raw, err := os.ReadFile(vmlinuxBTF)
	if err != nil {
		return nil, fmt.Errorf("read kernel BTF: %w", err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read kernel BTF: %w", err)
	}
	k := &kernelBTF{spec: spec, raw: raw, helperNames: map[int]string{}}

	funcIDs, err := k.enum("bpf_func_id")
	if err != nil {
		return nil, err
	}
	for _, v := range funcIDs.Values {
		switch {
		case v.Name == "__BPF_FUNC_MAX_ID":
			k.maxID = int(v.Value)
		case v.Name == "BPF_FUNC_unspec":
		default:
			k.helperIDs = append(k.helperIDs, int(v.Value))
			k.helperNames[int(v.Value)] = strings.TrimPrefix(v.Name, "BPF_FUNC_")
		}
	}
	sort.Ints(k.helperIDs)
	if k.maxID == 0 && len(k.helperIDs) > 0 {
		k.maxID = k.helperIDs[len(k.helperIDs)-1] + 1
	}
	k.helpers = k.helperDefinitions()
	if k.progTypes, err = k.enumValues("bpf_prog_type"); err != nil {
		return nil, err
	}
	if k.attachTypes, err = k.enumValues("bpf_attach_type"); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *kernelBTF) enum(name string) (*btf.Enum, error) {
	var e *btf.Enum
	if err := k.spec.TypeByName(name, &e); err != nil {
		return nil, fmt.Errorf("kernel BTF: enum %s: %w", name, err)
	}
	return e, nil
}

func (k *kernelBTF) enumValues(name string) (map[string]uint32, error) {
	e, err := k.enum(name)
	if err != nil {
		return nil, err
	}
	m := make(map[string]uint32, len(e.Values))
	for _, v := range e.Values {
		m[v.Name] = uint32(v.Value)
	}
	return m, nil
}

// typeID returns the BTF id of the type called name whose kind matches want (a *btf.Func,
// *btf.Typedef or *btf.Struct). Names are not unique across kinds: bpf_iter_task is both a
// struct (the open-coded iterator) and the function an iter program attaches to.
func typeID[T btf.Type](k *kernelBTF, name string) (btf.TypeID, T, bool) {
	var zero T
	types, err := k.spec.AnyTypesByName(name)
	if err != nil {
		return 0, zero, false
	}
	for _, t := range types {
		if tt, ok := t.(T); ok {
			id, err := k.spec.TypeID(t)
			if err != nil {
				continue
			}
			return id, tt, true
		}
	}
	return 0, zero, false
}

// helperDefinitions pairs each helper id with its enum name and, when the kernel has one, the
// argument names of its BPF_CALL wrapper: a FUNC bpf_<name> whose prototype has five u64
// parameters. A kfunc may share the bpf_ prefix but has typed parameters, so the shape of the
// prototype tells the two apart.
func (k *kernelBTF) helperDefinitions() []observation.BTFHelper {
	out := make([]observation.BTFHelper, 0, len(k.helperIDs))
	for _, id := range k.helperIDs {
		h := observation.BTFHelper{ID: id, Name: k.helperNames[id]}
		if args, ok := k.bpfCallArgs("bpf_" + h.Name); ok {
			h.Wrapper, h.Args = true, args
		}
		out = append(out, h)
	}
	return out
}

// bpfCallArgs returns the argument names of the BPF_CALL wrapper called name, without the
// __ur_N names of unused registers.
func (k *kernelBTF) bpfCallArgs(name string) ([]string, bool) {
	_, fn, ok := typeID[*btf.Func](k, name)
	if !ok {
		return nil, false
	}
	proto, ok := fn.Type.(*btf.FuncProto)
	if !ok || len(proto.Params) != 5 {
		return nil, false
	}
	var args []string
	for _, p := range proto.Params {
		if !isU64(p.Type) {
			return nil, false
		}
		if !strings.HasPrefix(p.Name, "__ur_") {
			args = append(args, p.Name)
		}
	}
	return args, true
}

// isU64 reports whether t is (a typedef of) an unsigned 64-bit integer.
func isU64(t btf.Type) bool {
	for {
		switch tt := t.(type) {
		case *btf.Typedef:
			t = tt.Type
		case *btf.Int:
			return tt.Size == 8 && tt.Encoding&btf.Signed == 0
		default:
			return false
		}
	}
}
