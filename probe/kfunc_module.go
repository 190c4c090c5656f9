package probe

import (
	"fmt"
	"maps"
	"slices"

	"github.com/cilium/ebpf/btf"
)

// moduleBTFs are the kernel BTF objects of the modules whose kfuncs a kfunc pass asks about,
// open for the pass: a call to a module's kfunc names the module's BTF by the index of one of
// its fds in the load's fd_array (the call's off).
type moduleBTFs struct {
	handles []*btf.Handle
	// fdArray is the loads' fd_array: fdArray[i] is the fd of the module at index i. Index 0 is
	// never a module's (off 0 means vmlinux).
	fdArray []int32
	// index is each module's index in fdArray.
	index map[string]int16
	// missing says why a module's BTF could not be opened.
	missing map[string]string
}

// openModuleBTFs opens the BTF object of each named module, found by its name among the
// kernel's BTF objects (BPF_BTF_GET_NEXT_ID, then BPF_BTF_GET_FD_BY_ID). A module whose BTF is
// not found is recorded in missing; an error means the objects could not be listed at all.
func openModuleBTFs(names []string) (*moduleBTFs, error) {
	m := &moduleBTFs{fdArray: []int32{-1}, index: map[string]int16{}, missing: map[string]string{}}
	if len(names) == 0 {
		return m, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	it := new(btf.HandleIterator)
	for it.Next() {
		info, err := it.Handle.Info()
		if err != nil || !info.IsModule() || !want[info.Name] || m.index[info.Name] != 0 {
			continue
		}
		if len(m.fdArray) > 1<<15-1 {
			break
		}
		h := it.Take()
		m.index[info.Name] = int16(len(m.fdArray))
		m.fdArray = append(m.fdArray, int32(h.FD()))
		m.handles = append(m.handles, h)
	}
	if err := it.Err(); err != nil {
		m.close()
		return nil, fmt.Errorf("probe: module BTF: %w", err)
	}
	for _, n := range slices.Sorted(maps.Keys(want)) {
		if m.index[n] == 0 {
			m.missing[n] = "no BTF object of module " + n + " in the kernel"
		}
	}
	return m, nil
}

// close closes the handles.
func (m *moduleBTFs) close() {
	for _, h := range m.handles {
		h.Close()
	}
	m.handles = nil
}
