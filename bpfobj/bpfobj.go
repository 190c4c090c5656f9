// Package bpfobj reads a user's compiled BPF object (an ELF file with e_machine EM_BPF) and says,
// per program, what it is and what it uses: its section and what the section means to the kernel
// (through package section), its license, the helpers and kfuncs it calls and the maps it
// references. Nothing is loaded: this is what `bpfmatrix load` knows of a program before any
// kernel is asked, and what its static answer is made of.
//
// cilium/ebpf's loader reads the object first. Objects it refuses (weak symbols, relocations it
// does not take) are not bad input: their programs are read from the ELF itself and the loader's
// words are kept in Object.LoaderError.
package bpfobj

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/section"
	"github.com/cilium/ebpf"
)

// Limit bounds the object files Read takes. Real objects with their BTF (-g) weigh from a few KiB
// to a few MiB (a sched_ext scheduler is under 4 MiB); 64 MiB leaves room for any generated one
// while a wrong path (a disk image, a core dump) is refused before it is read. files.Record
// (1 MiB) would refuse real objects.
var Limit = files.Limit{What: "a BPF object", Max: 64 << 20}

// ErrBadInput is wrapped by the errors of files that are no BPF object: not an ELF, or an ELF
// for another machine. Commands treat it, like files.ErrRefused, as bad input (exit 2).
var ErrBadInput = errors.New("not a BPF object")

// BadInputError names the file that is no BPF object and why; it matches ErrBadInput.
type BadInputError struct {
	Path, Reason string
}

// Error names the file and the reason.
func (e *BadInputError) Error() string { return e.Path + ": " + e.Reason }

// Is makes errors.Is(err, ErrBadInput) hold.
func (e *BadInputError) Is(target error) bool { return target == ErrBadInput }

// Object is what Read found in one object file.
type Object struct {
	// Path is the file as named to Read.
	Path string
	// Programs are the object's programs, ordered by section and then name.
	Programs []Program
	// LoaderError holds cilium/ebpf's words when its loader refused the object and the programs
	// were read from the ELF directly; "" when the loader read it.
	LoaderError string
	// Spec is what cilium/ebpf's loader read, nil when it refused the object: a loader of the
	// object's programs starts from it rather than reading the file again, and copies what it
	// changes.
	Spec *ebpf.CollectionSpec
	// SHA256 is the hex SHA-256 of the file as read.
	SHA256 string
}

// Program is one entry point of an object.
type Program struct {
	// Name is the program's function name.
	Name string
	// Section is the ELF section name as written in the object (libbpf's SEC()).
	Section string
	// ProgType and AttachType are what section.Parse makes of Section: the program type as the
	// registry names it and the expected attach type as enum bpf_attach_type names it ("" for
	// none). Both are "" when the section is unknown; SectionError then says why.
	ProgType, AttachType string
	// Target is the attach target the section names: a kernel function for fentry and kprobe
	// ("MODULE:FUNC" for a module's), an event for tp_btf, an iterator, "KIND.MEMBER" for
	// struct_ops; "" when the section names none.
	Target string
	// SectionError is section.Parse's reason when it does not know Section.
	SectionError string
	// License is the object's license string, as its "license" section holds it.
	License string
	// GPL reports whether the kernel takes License as GPL-compatible, which gpl_only helpers
	// and kfuncs require.
	GPL bool
	// Calls is what the program and the subprograms it calls use.
	Calls Calls
}

// Calls is what a program uses: what decides, besides its type, whether a kernel takes it. Its
// JSON is the "calls" of `bpfmatrix load`'s answers.
type Calls struct {
	// Helpers are the helpers called, by id, in id order.
	Helpers []Helper `json:"helpers"`
	// Kfuncs are the kfuncs called, by name, sorted.
	Kfuncs []string `json:"kfuncs"`
	// Maps are the maps referenced (the object's data sections, .rodata and .bss, included as
	// the array maps they become), sorted by name.
	Maps []Map `json:"maps"`
}

// Helper is a helper a program calls: its id in enum bpf_func_id and, when the registry knows
// the id, its name with the bpf_ prefix ("" for an id the registry does not define).
type Helper struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// Map is a map a program references: its name in the object and its type as cilium/ebpf's
// MapType names it ("Hash", "Array", "RingBuf"); Type is "" when the definition cannot be read.
type Map struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// helpers is the registry helper names come from, read once.
var helpers = sync.OnceValues(registry.Default)

// Read reads the BPF object at path: a regular file of at most Limit bytes, an ELF whose machine
// is EM_BPF. Other files are errors wrapping files.ErrRefused or ErrBadInput that name path and
// the reason.
func Read(path string) (*Object, error) {
	data, err := files.ReadRegular(path, Limit)
	if err != nil {
		return nil, err
	}
	return parse(path, data)
}

// parse reads an object already in memory; path names it in errors.
func parse(path string, data []byte) (*Object, error) {
	f, err := checkELF(path, data)
	if err != nil {
		return nil, err
	}
	reg, err := helpers()
	if errors.Is(err, registry.ErrNotEmbedded) {
		// A guest agent's build has no registry (objload runs there): helpers keep their ids
		// and go without names, as ids the registry does not define do.
		reg = nil
	} else if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	obj := &Object{Path: path, SHA256: hex.EncodeToString(sum[:])}
	if progs, spec, err := fromLoader(data, reg); err == nil {
		obj.Programs, obj.Spec = progs, spec
	} else {
		obj.LoaderError = err.Error()
		if obj.Programs, err = fromELF(f, data, reg); err != nil {
			return nil, &BadInputError{Path: path, Reason: err.Error()}
		}
	}
	sort.SliceStable(obj.Programs, func(i, j int) bool {
		a, b := obj.Programs[i], obj.Programs[j]
		return a.Section < b.Section || a.Section == b.Section && a.Name < b.Name
	})
	return obj, nil
}

// checkELF opens data as an ELF and refuses it unless it is a 64-bit BPF object.
func checkELF(path string, data []byte) (*elf.File, error) {
	if !bytes.HasPrefix(data, []byte(elf.ELFMAG)) {
		return nil, &BadInputError{Path: path, Reason: "not an ELF file (no ELF magic)"}
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, &BadInputError{Path: path, Reason: "not a readable ELF file: " + err.Error()}
	}
	if f.Machine != elf.EM_BPF {
		return nil, &BadInputError{Path: path, Reason: fmt.Sprintf("an ELF for %s, not BPF (e_machine %d, want %d)", f.Machine, uint16(f.Machine), uint16(elf.EM_BPF))}
	}
	if f.Class != elf.ELFCLASS64 {
		return nil, &BadInputError{Path: path, Reason: fmt.Sprintf("a BPF ELF of class %s, want ELFCLASS64", f.Class)}
	}
	return f, nil
}

// describe fills in what the section name and the license say of a program.
func describe(name, sec, license string) Program {
	p := Program{Name: name, Section: sec, License: license, GPL: gplCompatible(license)}
	s, err := section.Parse(sec)
	if err != nil && s.ProgType != "" {
		// Only the target is malformed (a placeholder the tool replaces when it starts):
		// the program loads as its prefix says; attaching it is what would fail.
		p.ProgType, p.AttachType, p.Target = s.ProgType, s.AttachType, s.Target
		return p
	}
	if err != nil {
		var se *section.Error
		if errors.As(err, &se) {
			p.SectionError = se.Reason
		} else {
			p.SectionError = err.Error()
		}
		return p
	}
	p.ProgType, p.AttachType, p.Target = s.ProgType, s.AttachType, s.Target
	if s.Module != "" {
		p.Target = s.Module + ":" + s.Target
	}
	return p
}

// gplCompatible reports whether the kernel's license_is_gpl_compatible takes license.
func gplCompatible(license string) bool {
	switch license {
	case "GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL":
		return true
	}
	return false
}
