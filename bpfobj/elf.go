package bpfobj

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// rawObject is an ELF read without a loader: enough to list programs and follow their calls.
type rawObject struct {
	f       *elf.File
	syms    []elf.Symbol
	code    map[int][]located      // executable section index -> its instructions
	rels    map[int]map[uint64]int // executable section index -> insn byte offset -> symbol index
	funcs   map[int][]uint64       // executable section index -> sorted function starts (insn index)
	mapType map[string]string      // map symbol name -> type
}

// located is an instruction and its byte offset in its section.
type located struct {
	off uint64
	ins asm.Instruction
}

// function names one function to walk: its section and first instruction index.
type function struct {
	sec   int
	start uint64
}

// fromELF lists the programs of an object read from its ELF alone, as libbpf finds them: every
// global or weak function of an executable section other than .text.
func fromELF(f *elf.File, data []byte, reg *registry.Registry) ([]Program, error) {
	raw, err := readRaw(f, data)
	if err != nil {
		return nil, err
	}
	license := raw.license()
	var progs []Program
	for _, s := range raw.syms {
		if !raw.isProgram(s) {
			continue
		}
		p := describe(s.Name, f.Sections[s.Section].Name, license)
		cs := newCallSet()
		raw.walk(cs, function{int(s.Section), s.Value / asm.InstructionSize})
		p.Calls = cs.calls(reg)
		progs = append(progs, p)
	}
	return progs, nil
}

// readRaw reads the symbols, code, relocations and map definitions of f.
func readRaw(f *elf.File, data []byte) (*rawObject, error) {
	syms, err := f.Symbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, err
	}
	raw := &rawObject{f: f, syms: syms, code: map[int][]located{}, rels: map[int]map[uint64]int{}, funcs: map[int][]uint64{}}
	for i, s := range f.Sections {
		if s.Type == elf.SHT_PROGBITS && s.Flags&elf.SHF_EXECINSTR != 0 {
			raw.code[i] = decode(s, f.ByteOrder)
		}
	}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_REL && raw.code[int(s.Info)] != nil {
			raw.rels[int(s.Info)] = readRels(s, f.ByteOrder)
		}
	}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && raw.code[int(s.Section)] != nil {
			raw.funcs[int(s.Section)] = append(raw.funcs[int(s.Section)], s.Value/asm.InstructionSize)
		}
	}
	raw.mapType = readMapTypes(f, data, syms)
	return raw, nil
}

// decode returns the instructions of an executable section, as far as they decode.
func decode(s *elf.Section, bo binary.ByteOrder) []located {
	data, err := s.Data()
	if err != nil {
		return nil
	}
	var out []located
	r := bytes.NewReader(data)
	for off := uint64(0); r.Len() > 0; {
		var ins asm.Instruction
		if err := ins.Unmarshal(r, bo, "linux"); err != nil {
			break
		}
		out = append(out, located{off, ins})
		off += ins.Size()
	}
	return out
}

// readRels returns a relocation section's entries: instruction offset to symbol index.
func readRels(s *elf.Section, bo binary.ByteOrder) map[uint64]int {
	data, err := s.Data()
	if err != nil {
		return nil
	}
	out := map[uint64]int{}
	r := bytes.NewReader(data)
	for {
		var rel elf.Rel64
		if err := binary.Read(r, bo, &rel); err != nil {
			return out
		}
		out[rel.Off] = int(elf.R_SYM64(rel.Info))
	}
}

// symbol returns the symbol a relocation names (its index in the symbol table).
func (raw *rawObject) symbol(idx int) (elf.Symbol, bool) {
	// f.Symbols leaves out the table's null symbol at index 0.
	if idx < 1 || idx > len(raw.syms) {
		return elf.Symbol{}, false
	}
	return raw.syms[idx-1], true
}

// isProgram reports whether s is an entry point as libbpf finds them.
func (raw *rawObject) isProgram(s elf.Symbol) bool {
	bind := elf.ST_BIND(s.Info)
	return elf.ST_TYPE(s.Info) == elf.STT_FUNC && (bind == elf.STB_GLOBAL || bind == elf.STB_WEAK) &&
		raw.code[int(s.Section)] != nil && raw.f.Sections[s.Section].Name != ".text"
}

// license returns the object's license section up to its NUL.
func (raw *rawObject) license() string {
	s := raw.f.Section("license")
	if s == nil {
		return ""
	}
	data, err := io.ReadAll(io.LimitReader(s.Open(), 256))
	if err != nil {
		return ""
	}
	license, _, _ := strings.Cut(string(data), "\x00")
	return license
}

// sectionName returns the name of section index i, "" when there is none.
func (raw *rawObject) sectionName(i elf.SectionIndex) string {
	if int(i) >= len(raw.f.Sections) {
		return ""
	}
	return raw.f.Sections[i].Name
}

// isMapSection reports whether a section holds map definitions, BTF-defined or legacy.
func isMapSection(name string) bool {
	return name == ".maps" || name == "maps" || strings.HasPrefix(name, "maps/")
}

// readMapTypes returns the type of every map defined in f: from the BTF of .maps, and from the
// first word of each legacy struct bpf_map_def in maps.
func readMapTypes(f *elf.File, data []byte, syms []elf.Symbol) map[string]string {
	out := map[string]string{}
	for _, s := range syms {
		if int(s.Section) >= len(f.Sections) || !strings.HasPrefix(f.Sections[s.Section].Name, "maps") {
			continue
		}
		var word [4]byte
		if _, err := f.Sections[s.Section].ReadAt(word[:], int64(s.Value)); err == nil {
			out[s.Name] = ebpf.MapType(f.ByteOrder.Uint32(word[:])).String()
		}
	}
	btfMapTypes(data, out)
	return out
}

// btfMapTypes adds to out the type of every map of the .maps section's BTF: its member "type" is
// a pointer to an array whose length is the type. An object without BTF adds nothing.
func btfMapTypes(data []byte, out map[string]string) {
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(data))
	if err != nil {
		return
	}
	var ds *btf.Datasec
	if spec.TypeByName(".maps", &ds) != nil {
		return
	}
	for _, vs := range ds.Vars {
		v, ok := vs.Type.(*btf.Var)
		if !ok {
			continue
		}
		st, ok := btf.UnderlyingType(v.Type).(*btf.Struct)
		if !ok {
			continue
		}
		for _, m := range st.Members {
			if m.Name != "type" {
				continue
			}
			if ptr, ok := btf.UnderlyingType(m.Type).(*btf.Pointer); ok {
				if arr, ok := btf.UnderlyingType(ptr.Target).(*btf.Array); ok {
					out[v.Name] = ebpf.MapType(arr.Nelems).String()
				}
			}
		}
	}
}

// walk adds to cs what fn uses, and what every function it calls or takes the address of uses.
func (raw *rawObject) walk(cs *callSet, fn function) {
	seen := map[function]bool{}
	todo := []function{fn}
	for len(todo) > 0 {
		fn, todo = todo[len(todo)-1], todo[:len(todo)-1]
		if seen[fn] {
			continue
		}
		seen[fn] = true
		end := raw.functionEnd(fn)
		code := raw.code[fn.sec]
		first := sort.Search(len(code), func(i int) bool { return code[i].off/asm.InstructionSize >= fn.start })
		for _, l := range code[first:] {
			if l.off/asm.InstructionSize >= end {
				break
			}
			if next, ok := raw.instruction(cs, fn.sec, l); ok {
				todo = append(todo, next)
			}
		}
	}
}

// functionEnd returns the instruction index where the function starting at fn ends: the next
// function's start in its section, or the section's end.
func (raw *rawObject) functionEnd(fn function) uint64 {
	end := ^uint64(0)
	for _, start := range raw.funcs[fn.sec] {
		if start > fn.start && start < end {
			end = start
		}
	}
	return end
}

// instruction adds to cs what one instruction uses; it returns the function the instruction
// calls or takes the address of, when it names one of the object's.
func (raw *rawObject) instruction(cs *callSet, sec int, l located) (function, bool) {
	ins := l.ins
	idx := int64(l.off / asm.InstructionSize)
	sym, relocated := raw.symbol(raw.rels[sec][l.off])
	isCall := ins.OpCode.JumpOp() == asm.Call && ins.OpCode.Class().IsJump()
	switch {
	case isCall && relocated && sym.Section == elf.SHN_UNDEF:
		cs.kfuncs[sym.Name] = true // an extern function: a kfunc (__ksym)
	case isCall && relocated:
		return raw.target(sym, int64(sym.Value/asm.InstructionSize)+ins.Constant+1)
	case isCall && ins.Src == asm.PseudoCall:
		return function{sec, uint64(idx + ins.Constant + 1)}, true
	case isCall && ins.Src == 0:
		cs.helpers[int(ins.Constant)] = true
	case ins.OpCode.IsDWordLoad() && relocated:
		name := raw.sectionName(sym.Section)
		switch {
		case isMapSection(name):
			cs.maps[sym.Name] = raw.mapType[sym.Name]
		case isDataSection(name):
			cs.maps[name] = ebpf.Array.String()
		case raw.code[int(sym.Section)] != nil: // a callback's address (bpf_loop, timers)
			return raw.target(sym, (int64(sym.Value)+ins.Constant)/asm.InstructionSize)
		}
	}
	return function{}, false
}

// target returns the function at instruction index idx of sym's section, when that section
// holds code.
func (raw *rawObject) target(sym elf.Symbol, idx int64) (function, bool) {
	if raw.code[int(sym.Section)] == nil || idx < 0 {
		return function{}, false
	}
	return function{int(sym.Section), uint64(idx)}, true
}
