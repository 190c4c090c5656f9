package probe

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unsafe"

	ebpfasm "github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// Held objects (issue 18, item 5). The kfunc pass calls the list, rbtree, resilient spin lock
// and workqueue kfuncs with zeroed arguments: their filter lets them through in program types
// whose programs may not hold the object they work on. A program holds such an object in a map
// value, and the verifier's check_map_prog_compatibility refuses some program types such maps
// outright ("tracing progs cannot use bpf_{list_head,rb_root} yet"). That is a fact of the
// kernel per (object, program type), not per kfunc: after the kfunc pass, every variant that
// was offered a kfunc working on an object (registry.ObjectsHeld of its BTF prototype) loads
// one trivial program that references a one-entry array whose value holds the object, once
// per object. The answers go to Facts.HeldObjects.

// heldObjects is the prober's held-object question.
type heldObjects struct {
	// sizes are the kernel's sizes of the structs the map values hold, by name; a struct the
	// kernel lacks is absent, and the objects needing it are not asked.
	sizes map[string]uint32
	// asked holds, per variant, the objects an offered kfunc of the pass works on.
	asked map[*variant]map[string]bool
}

// heldStructs are the kernel structs map values with held objects are built from.
var heldStructs = []string{"bpf_spin_lock", "bpf_list_head", "bpf_list_node", "bpf_rb_root", "bpf_rb_node", "bpf_res_spin_lock", "bpf_wq"}

// heldObjectSizes reads the sizes of heldStructs from the kernel's BTF: the verifier knows a
// map value's special field by its struct's name and size, which change between releases
// (bpf_list_node grew an owner in 6.4).
func heldObjectSizes(k *kernelBTF) map[string]uint32 {
	sizes := map[string]uint32{}
	if k == nil {
		return sizes
	}
	for _, name := range heldStructs {
		if _, st, ok := typeID[*btf.Struct](k, name); ok {
			sizes[name] = st.Size
		}
	}
	return sizes
}

// watchHeldObjects returns emit, recording on the way the variants offered a kfunc that works
// on a held object.
func (p *Prober) watchHeldObjects(emit func(observation.Result) error) func(observation.Result) error {
	needs := map[string][]string{}
	for _, kf := range p.kfunc.list {
		if objs := registry.ObjectsHeld(p.facts.Kfuncs[kf.fact].Prototype); len(objs) > 0 {
			needs[kf.name] = objs
		}
	}
	byName := map[string]*variant{}
	for _, v := range p.variants {
		byName[v.spec.progType+"/"+v.spec.name] = v
	}
	p.held.asked = map[*variant]map[string]bool{}
	return func(r observation.Result) error {
		if objs := needs[r.Kfunc]; len(objs) > 0 && r.Outcome.Offered() {
			if v := byName[r.ProgType+"/"+r.Variant]; v != nil {
				if p.held.asked[v] == nil {
					p.held.asked[v] = map[string]bool{}
				}
				for _, o := range objs {
					p.held.asked[v][o] = true
				}
			}
		}
		return emit(r)
	}
}

// askHeldObjects loads, per variant watchHeldObjects recorded and per object it needs, one
// program using a map that holds the object, and records the answers in the facts. A map the
// kernel will not create leaves its object unasked, with a log line.
func (p *Prober) askHeldObjects(ctx context.Context) error {
	if len(p.held.asked) == 0 {
		return nil
	}
	start, loads := time.Now(), p.stats.Loads
	maps, err := newHeldMaps(p.held.sizes)
	if err != nil {
		fmt.Fprintf(p.opts.Log, "probe: held objects not asked: %v\n", err)
		return nil
	}
	defer maps.close()
	l := newLoader(p.logSize)
	for _, v := range p.variants {
		for _, obj := range registry.HeldObjectKinds {
			if !p.held.asked[v][obj] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			fd, err := maps.fd(obj)
			if err != nil {
				fmt.Fprintf(p.opts.Log, "probe: held object %s not asked: %v\n", obj, err)
				continue
			}
			p.facts.HeldObjects = append(p.facts.HeldObjects, askHeld(l, v, obj, fd))
		}
	}
	p.addStats(l)
	p.stats.KfuncLoads += p.stats.Loads - loads
	p.stats.KfuncDuration += time.Since(start)
	return nil
}

// askHeld loads into v a program that references the map fd holding obj.
func askHeld(l *loader, v *variant, obj string, fd int) observation.HeldObject {
	h := observation.HeldObject{Object: obj, Variant: v.spec.progType + "/" + v.spec.name}
	insns, err := bpfasm.Marshal(ebpfasm.Instructions{
		ebpfasm.LoadMapPtr(ebpfasm.R1, fd),
		ebpfasm.Mov.Imm(ebpfasm.R0, v.spec.ret),
		ebpfasm.Return(),
	})
	if err != nil {
		h.Inconclusive, h.Detail = true, err.Error()
		return h
	}
	res := l.load(&v.prog, insns, true)
	h.Allowed, h.Inconclusive, h.Detail = classifyHeld(res)
	return h
}

// classifyHeld reads a held-object load: loaded is allowed; refused with the verifier's words
// about the map ("... cannot use ... yet", "... can only use ...") is refused; anything else
// says nothing about the object.
func classifyHeld(res loadResult) (allowed, inconclusive bool, detail string) {
	if res.errno == 0 {
		return true, false, ""
	}
	for _, line := range strings.Split(res.log, "\n") {
		if strings.Contains(line, "cannot use") || strings.Contains(line, "can only use") {
			return false, false, strings.TrimSpace(line)
		}
	}
	detail = errnoName(res.errno)
	if last := lastLogLine(res.log); last != "" {
		detail += ": " + last
	}
	return false, true, detail
}

// lastLogLine is the last non-empty line of a verifier log.
func lastLogLine(log string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// heldMaps are the one-entry arrays whose values hold each object, made from one BTF.
type heldMaps struct {
	btf  *btf.Handle
	key  btf.TypeID
	vals map[string]btf.TypeID // value type by object
	size map[string]uint32     // value size by object
	fds  map[string]int
}

// heldNodeMember is the member of the private node struct a list or rbtree root contains, as
// its "contains:" declaration tag says (the kernel selftests' __contains macro); the struct is
// named after the node's kernel struct (bpfmatrix_list_node, bpfmatrix_rb_node).
const heldNodeMember = "node"

// newHeldMaps loads the BTF of the map values: for each object the kernel has the structs of, a
// struct holding it at offset 0; a list or rbtree root comes with its bpf_spin_lock after it
// (the kernel requires one in the same value) and a tag naming the node type it contains.
func newHeldMaps(sizes map[string]uint32) (*heldMaps, error) {
	b, err := btf.NewBuilder(nil, nil)
	if err != nil {
		return nil, err
	}
	m := &heldMaps{vals: map[string]btf.TypeID{}, size: map[string]uint32{}, fds: map[string]int{}}
	if m.key, err = b.Add(&btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}); err != nil {
		return nil, err
	}
	// One type per kernel struct: the kernel finds the structs it knows by name, the first
	// of a name only.
	structs := map[string]*btf.Struct{}
	kernelStruct := func(name string) *btf.Struct {
		if structs[name] == nil {
			structs[name] = &btf.Struct{Name: name, Size: sizes[name]}
		}
		return structs[name]
	}
	for _, obj := range registry.HeldObjectKinds {
		val, extra, ok := heldValue(obj, sizes, kernelStruct)
		if !ok {
			continue
		}
		for _, t := range extra {
			if _, err := b.Add(t); err != nil {
				return nil, err
			}
		}
		if m.vals[obj], err = b.Add(val); err != nil {
			return nil, err
		}
		m.size[obj] = val.Size
	}
	if m.btf, err = btf.NewHandle(b); err != nil {
		return nil, fmt.Errorf("load BTF for held objects: %w", err)
	}
	return m, nil
}

// heldValue returns the map value struct holding obj and the types to add beside it (the node
// type of a graph root, whose root member carries the "contains:" tag); ok is false when the kernel lacks a struct it needs.
func heldValue(obj string, sizes map[string]uint32, kernelStruct func(string) *btf.Struct) (val *btf.Struct, extra []btf.Type, ok bool) {
	name := "bpfmatrix_" + strings.TrimPrefix(obj, "bpf_")
	node := map[string]string{"bpf_list_head": "bpf_list_node", "bpf_rb_root": "bpf_rb_node"}[obj]
	if sizes[obj] == 0 || node != "" && (sizes[node] == 0 || sizes["bpf_spin_lock"] == 0) {
		return nil, nil, false
	}
	if node == "" {
		return &btf.Struct{Name: name, Size: align8(sizes[obj]), Members: []btf.Member{{Name: "obj", Type: kernelStruct(obj)}}}, nil, true
	}
	lockOff := align8(sizes[obj])
	val = &btf.Struct{Name: name, Size: align8(lockOff + sizes["bpf_spin_lock"]), Members: []btf.Member{
		{Name: "obj", Type: kernelStruct(obj), Tags: []string{"contains:bpfmatrix_" + strings.TrimPrefix(node, "bpf_") + ":" + heldNodeMember}},
		{Name: "lock", Type: kernelStruct("bpf_spin_lock"), Offset: btf.Bits(lockOff * 8)},
	}}
	nodeName := "bpfmatrix_" + strings.TrimPrefix(node, "bpf_")
	nodeType := &btf.Struct{Name: nodeName, Size: align8(sizes[node]), Members: []btf.Member{{Name: heldNodeMember, Type: kernelStruct(node)}}}
	return val, []btf.Type{nodeType}, true
}

func align8(n uint32) uint32 { return (n + 7) &^ 7 }

// fd returns the map holding obj, creating it on first use.
func (m *heldMaps) fd(obj string) (int, error) {
	if fd, ok := m.fds[obj]; ok {
		return fd, nil
	}
	val, ok := m.vals[obj]
	if !ok {
		return -1, fmt.Errorf("the kernel's BTF lacks a struct a map value holding %s needs", obj)
	}
	attr := mapCreateAttr{
		mapType: mapArray, keySize: 4, valueSize: m.size[obj], maxEntries: 1,
		btfFD: uint32(m.btf.FD()), btfKeyTypeID: uint32(m.key), btfValueTypeID: uint32(val),
	}
	copy(attr.mapName[:], "bpfmatrix_held")
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_MAP_CREATE, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	if errno != 0 {
		return -1, fmt.Errorf("create an array holding %s: %s", obj, errnoName(errno))
	}
	m.fds[obj] = int(fd)
	return int(fd), nil
}

func (m *heldMaps) close() {
	for _, fd := range m.fds {
		unix.Close(fd)
	}
	if m.btf != nil {
		m.btf.Close()
	}
}
