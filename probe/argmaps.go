package probe

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// Map types of enum bpf_map_type (uapi, never renumbered) the argument pass creates.
const (
	mapHash             = 1
	mapArray            = 2
	mapProgArray        = 3
	mapPerfEventArray   = 4
	mapPercpuArray      = 6
	mapStackTrace       = 7
	mapCgroupArray      = 8
	mapDevmap           = 14
	mapSockmap          = 15
	mapSockhash         = 18
	mapCgroupStorage    = 19
	mapReuseportSockarr = 20
	mapQueue            = 22
	mapSkStorage        = 24
	mapRingbuf          = 27
	mapInodeStorage     = 28
	mapTaskStorage      = 29
	mapUserRingbuf      = 31
	mapCgrpStorage      = 32

	// mapConstString is not a kernel map type: it names the read-only, frozen array whose
	// zeroed value serves as a constant string (ARG_PTR_TO_CONST_STR: bpf_snprintf's format,
	// bpf_strncmp's second string).
	mapConstString = -1
	// mapSpinLock, mapTimer and mapKptr are single-element arrays whose value's BTF holds a
	// struct bpf_spin_lock, a struct bpf_timer or a kptr to a task_struct at offset 0: what
	// bpf_spin_lock, the bpf_timer_* helpers and bpf_kptr_xchg take a pointer into.
	mapSpinLock = -2
	mapTimer    = -3
	mapKptr     = -4
)

// btfFieldMaps names the map whose value holds the field a function wants, by the name the
// verifier gives ("has to have BTF in order to use bpf_timer").
var btfFieldMaps = map[string]int{
	"bpf_spin_lock":   mapSpinLock,
	"bpf_spin_unlock": mapSpinLock,
	"bpf_timer":       mapTimer,
	"bpf_kptr_xchg":   mapKptr,
}

// helperMapTypes names the map type a helper wants in its map argument, where a hash map will
// not do (the kernel's check_map_func_compatibility); by helper name without bpf_.
var helperMapTypes = map[string]int{
	"tail_call":                 mapProgArray,
	"perf_event_read":           mapPerfEventArray,
	"perf_event_read_value":     mapPerfEventArray,
	"perf_event_output":         mapPerfEventArray,
	"skb_output":                mapPerfEventArray,
	"xdp_output":                mapPerfEventArray,
	"get_stackid":               mapStackTrace,
	"current_task_under_cgroup": mapCgroupArray,
	"skb_under_cgroup":          mapCgroupArray,
	"redirect_map":              mapDevmap,
	"sk_redirect_map":           mapSockmap,
	"msg_redirect_map":          mapSockmap,
	"sock_map_update":           mapSockmap,
	"sk_redirect_hash":          mapSockhash,
	"msg_redirect_hash":         mapSockhash,
	"sock_hash_update":          mapSockhash,
	"sk_select_reuseport":       mapReuseportSockarr,
	"get_local_storage":         mapCgroupStorage,
	"map_push_elem":             mapQueue,
	"map_pop_elem":              mapQueue,
	"map_peek_elem":             mapQueue,
	"sk_storage_get":            mapSkStorage,
	"sk_storage_delete":         mapSkStorage,
	"inode_storage_get":         mapInodeStorage,
	"inode_storage_delete":      mapInodeStorage,
	"task_storage_get":          mapTaskStorage,
	"task_storage_delete":       mapTaskStorage,
	"cgrp_storage_get":          mapCgrpStorage,
	"cgrp_storage_delete":       mapCgrpStorage,
	"ringbuf_output":            mapRingbuf,
	"ringbuf_reserve":           mapRingbuf,
	"ringbuf_query":             mapRingbuf,
	"ringbuf_reserve_dynptr":    mapRingbuf,
	"user_ringbuf_drain":        mapUserRingbuf,
	"map_lookup_percpu_elem":    mapPercpuArray,
}

// mapSpec is what BPF_MAP_CREATE needs for one map type.
type mapSpec struct {
	keySize, valueSize, maxEntries, flags uint32
	// btf: the map type needs BTF for its key and value (local storage maps, and the arrays
	// with special fields in their values).
	btf bool
}

// BPF_MAP_CREATE flags.
const (
	bpfFNoPrealloc  = 1 << 0
	bpfFRdonlyProg  = 1 << 7
	bpfMapFreezeCmd = 22 // BPF_MAP_FREEZE
)

var mapSpecs = map[int]mapSpec{
	mapHash:             {keySize: 8, valueSize: 64, maxEntries: 1},
	mapArray:            {keySize: 4, valueSize: 64, maxEntries: 1},
	mapConstString:      {keySize: 4, valueSize: 64, maxEntries: 1, flags: bpfFRdonlyProg},
	mapProgArray:        {keySize: 4, valueSize: 4, maxEntries: 1},
	mapPerfEventArray:   {keySize: 4, valueSize: 4, maxEntries: 1},
	mapPercpuArray:      {keySize: 4, valueSize: 8, maxEntries: 1},
	mapStackTrace:       {keySize: 4, valueSize: 64, maxEntries: 1},
	mapCgroupArray:      {keySize: 4, valueSize: 4, maxEntries: 1},
	mapDevmap:           {keySize: 4, valueSize: 4, maxEntries: 1},
	mapSockmap:          {keySize: 4, valueSize: 4, maxEntries: 1},
	mapSockhash:         {keySize: 4, valueSize: 4, maxEntries: 1},
	mapCgroupStorage:    {keySize: 8, valueSize: 8},
	mapReuseportSockarr: {keySize: 4, valueSize: 8, maxEntries: 1},
	mapQueue:            {valueSize: 8, maxEntries: 1},
	mapSkStorage:        {keySize: 4, valueSize: 8, flags: bpfFNoPrealloc, btf: true},
	mapRingbuf:          {maxEntries: 4096},
	mapInodeStorage:     {keySize: 4, valueSize: 8, flags: bpfFNoPrealloc, btf: true},
	mapTaskStorage:      {keySize: 4, valueSize: 8, flags: bpfFNoPrealloc, btf: true},
	mapUserRingbuf:      {maxEntries: 4096},
	mapCgrpStorage:      {keySize: 4, valueSize: 8, flags: bpfFNoPrealloc, btf: true},
	mapSpinLock:         {keySize: 4, valueSize: 4, maxEntries: 1, btf: true},
	mapTimer:            {keySize: 4, valueSize: 16, maxEntries: 1, btf: true},
	mapKptr:             {keySize: 4, valueSize: 8, maxEntries: 1, btf: true},
}

// mapCreateAttr is the BPF_MAP_CREATE member of union bpf_attr up to btf_value_type_id (5.0).
type mapCreateAttr struct {
	mapType        uint32
	keySize        uint32
	valueSize      uint32
	maxEntries     uint32
	mapFlags       uint32
	innerMapFD     uint32
	numaNode       uint32
	mapName        [16]byte
	mapIfindex     uint32
	btfFD          uint32
	btfKeyTypeID   uint32
	btfValueTypeID uint32
}

// argMaps creates the maps argument probes pass, once per map type and run, and closes them.
// It is safe for concurrent use.
type argMaps struct {
	mu   sync.Mutex
	fds  map[int]int
	errs map[int]error
	btf  *btf.Handle
	key  btf.TypeID
	vals map[int]btf.TypeID // value type by map type: long, or the struct with the field
	// prog is the BTF of argument probes with a callback: their two functions, for the func
	// info the kernel wants of a program with subprograms it calls back.
	prog             *btf.Handle
	progErr          error
	mainFunc, cbFunc btf.TypeID
}

func newArgMaps() *argMaps { return &argMaps{fds: map[int]int{}, errs: map[int]error{}} }

// fd returns the file descriptor of the map of type typ, creating the map on first use.
func (m *argMaps) fd(typ int) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if fd, ok := m.fds[typ]; ok {
		return fd, nil
	}
	if err, ok := m.errs[typ]; ok {
		return -1, err
	}
	fd, err := m.create(typ)
	if err != nil {
		m.errs[typ] = err
		return -1, err
	}
	m.fds[typ] = fd
	return fd, nil
}

func (m *argMaps) create(typ int) (int, error) {
	spec, ok := mapSpecs[typ]
	if !ok {
		return -1, fmt.Errorf("no map spec for map type %d", typ)
	}
	attr := mapCreateAttr{
		mapType:    uint32(typ),
		keySize:    spec.keySize,
		valueSize:  spec.valueSize,
		maxEntries: spec.maxEntries,
		mapFlags:   spec.flags,
	}
	copy(attr.mapName[:], "bpfmatrix_arg")
	if typ < 0 {
		attr.mapType = mapArray
	}
	if spec.btf {
		if err := m.loadBTF(); err != nil {
			return -1, err
		}
		val, ok := m.vals[typ]
		if !ok {
			val = m.vals[0]
		}
		attr.btfFD, attr.btfKeyTypeID, attr.btfValueTypeID = uint32(m.btf.FD()), uint32(m.key), uint32(val)
	}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_MAP_CREATE, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	if errno != 0 {
		return -1, fmt.Errorf("create map type %d: %s", typ, errnoName(errno))
	}
	if typ == mapConstString {
		// The value stays zero: an empty string, which every format check accepts.
		fdAttr := struct{ fd uint32 }{uint32(fd)}
		if _, _, errno := unix.Syscall(unix.SYS_BPF, bpfMapFreezeCmd, uintptr(unsafe.Pointer(&fdAttr)), unsafe.Sizeof(fdAttr)); errno != 0 {
			unix.Close(int(fd))
			return -1, fmt.Errorf("freeze read-only array: %s", errnoName(errno))
		}
	}
	return int(fd), nil
}

// loadBTF loads the BTF that maps describe their key (int) and value with: a long for local
// storage maps, a struct holding the special field for the others.
func (m *argMaps) loadBTF() error {
	if m.btf != nil {
		return nil
	}
	b, err := btf.NewBuilder(nil, nil)
	if err != nil {
		return err
	}
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	u64 := &btf.Int{Name: "unsigned long long", Size: 8}
	// The kernel finds the fields by these struct names (and, for a kptr, the "kptr" tag on a
	// pointer to a struct that vmlinux has, by name).
	spinLock := &btf.Struct{Name: "bpf_spin_lock", Size: 4, Members: []btf.Member{{Name: "val", Type: u32}}}
	timer := &btf.Struct{Name: "bpf_timer", Size: 16, Members: []btf.Member{
		{Name: "__opaque", Type: &btf.Array{Index: u32, Type: u64, Nelems: 2}},
	}}
	task := &btf.Struct{Name: "task_struct"}
	types := map[int]btf.Type{
		0:           &btf.Int{Name: "long", Size: 8, Encoding: btf.Signed},
		mapSpinLock: &btf.Struct{Name: "bpfmatrix_lock_val", Size: 4, Members: []btf.Member{{Name: "lock", Type: spinLock}}},
		mapTimer:    &btf.Struct{Name: "bpfmatrix_timer_val", Size: 16, Members: []btf.Member{{Name: "timer", Type: timer}}},
		mapKptr: &btf.Struct{Name: "bpfmatrix_kptr_val", Size: 8, Members: []btf.Member{
			{Name: "task", Type: &btf.Pointer{Target: &btf.TypeTag{Value: "kptr", Type: task}}},
		}},
	}
	key, err := b.Add(&btf.Int{Name: "int", Size: 4, Encoding: btf.Signed})
	if err != nil {
		return err
	}
	vals := map[int]btf.TypeID{}
	for typ, t := range types {
		if vals[typ], err = b.Add(t); err != nil {
			return err
		}
	}
	h, err := btf.NewHandle(b)
	if err != nil {
		return fmt.Errorf("load BTF for maps: %w", err)
	}
	m.btf, m.key, m.vals = h, key, vals
	return nil
}

// progBTF returns the BTF handle of argument probes with a callback and the type ids of their
// main function and callback.
func (m *argMaps) progBTF() (*btf.Handle, btf.TypeID, btf.TypeID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.prog != nil || m.progErr != nil {
		return m.prog, m.mainFunc, m.cbFunc, m.progErr
	}
	m.progErr = func() error {
		b, err := btf.NewBuilder(nil, nil)
		if err != nil {
			return err
		}
		long := &btf.Int{Name: "long", Size: 8, Encoding: btf.Signed}
		main := &btf.Func{Name: "bpfmatrix_probe", Linkage: btf.GlobalFunc, Type: &btf.FuncProto{
			Return: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed},
			Params: []btf.FuncParam{{Name: "ctx", Type: &btf.Pointer{Target: &btf.Void{}}}},
		}}
		cb := &btf.Func{Name: "bpfmatrix_callback", Linkage: btf.StaticFunc, Type: &btf.FuncProto{Return: long}}
		if m.mainFunc, err = b.Add(main); err != nil {
			return err
		}
		if m.cbFunc, err = b.Add(cb); err != nil {
			return err
		}
		m.prog, err = btf.NewHandle(b)
		if err != nil {
			return fmt.Errorf("load BTF for callbacks: %w", err)
		}
		return nil
	}()
	return m.prog, m.mainFunc, m.cbFunc, m.progErr
}

// Close closes every map and the BTF.
func (m *argMaps) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, fd := range m.fds {
		unix.Close(fd)
	}
	m.fds = map[int]int{}
	if m.btf != nil {
		m.btf.Close()
		m.btf = nil
	}
	if m.prog != nil {
		m.prog.Close()
		m.prog = nil
	}
}
