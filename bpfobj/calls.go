package bpfobj

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// callSet gathers what a program uses while its instructions are walked.
type callSet struct {
	helpers map[int]bool
	kfuncs  map[string]bool
	maps    map[string]string
}

func newCallSet() *callSet {
	return &callSet{helpers: map[int]bool{}, kfuncs: map[string]bool{}, maps: map[string]string{}}
}

// calls returns the set in Calls' order, naming helpers from reg (none when reg is nil).
func (c *callSet) calls(reg *registry.Registry) Calls {
	var out Calls
	for _, id := range slices.Sorted(maps.Keys(c.helpers)) {
		h := Helper{ID: id}
		if reg != nil {
			if e, ok := reg.ByID(id); ok {
				h.Name = "bpf_" + e.Name
			}
		}
		out.Helpers = append(out.Helpers, h)
	}
	out.Kfuncs = slices.Sorted(maps.Keys(c.kfuncs))
	for _, name := range slices.Sorted(maps.Keys(c.maps)) {
		out.Maps = append(out.Maps, Map{Name: name, Type: c.maps[name]})
	}
	return out
}

// fromLoader lists the programs of the object cilium/ebpf's loader reads, or returns its error.
// A panic of the loader on a malformed object is its refusal too: a broken file must not take
// the command down with it.
func fromLoader(data []byte, reg *registry.Registry) (progs []Program, spec *ebpf.CollectionSpec, err error) {
	defer func() {
		if r := recover(); r != nil {
			progs, spec, err = nil, nil, fmt.Errorf("cilium/ebpf panicked reading the object: %v", r)
		}
	}()
	spec, err = ebpf.LoadCollectionSpecFromReader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	for _, ps := range spec.Programs {
		p := describe(ps.Name, ps.SectionName, ps.License)
		cs := newCallSet()
		for _, ins := range ps.Instructions {
			loaderInstruction(cs, spec, ins)
		}
		p.Calls = cs.calls(reg)
		progs = append(progs, p)
	}
	return progs, spec, nil
}

// loaderInstruction adds to cs what one instruction of a loaded spec uses.
func loaderInstruction(cs *callSet, spec *ebpf.CollectionSpec, ins asm.Instruction) {
	switch {
	case ins.IsBuiltinCall():
		cs.helpers[int(ins.Constant)] = true
	case ins.IsKfuncCall():
		if name := ins.Reference(); name != "" {
			cs.kfuncs[name] = true
		}
	case ins.IsLoadFromMap():
		name := ins.Reference()
		if name == "" {
			return
		}
		typ := ""
		if m := spec.Maps[name]; m != nil {
			typ = m.Type.String()
		}
		cs.maps[name] = typ
	}
}

// isDataSection reports whether an ELF section holds global variables, which loaders turn into
// array maps.
func isDataSection(name string) bool {
	for _, p := range []string{".rodata", ".data", ".bss"} {
		if name == p || strings.HasPrefix(name, p+".") {
			return true
		}
	}
	return false
}
