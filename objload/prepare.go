package objload

import (
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// prepare returns the spec one program is loaded from: the program, the maps its instructions
// reference and their variables, with the run-time defaults and the user's settings applied,
// each noted in r.Defaults. A .kconfig map made for the program is l.kconfig until the load is
// over.
func (l *loader) prepare(r *observation.ProgramLoad, ps *ebpf.ProgramSpec) (*ebpf.CollectionSpec, error) {
	cs := trim(l.spec, ps)
	prog := cs.Programs[ps.Name]
	l.retarget(r, prog)
	for _, name := range slices.Sorted(maps.Keys(cs.Maps)) {
		m := cs.Maps[name]
		l.size(r, m)
		if dropped := dropReferences(m); dropped > 0 {
			r.Defaults = append(r.Defaults, fmt.Sprintf("map %s: %d initial entries naming other programs or maps left out", name, dropped))
		}
		if m.Pinning != ebpf.PinNone {
			dir, err := l.pinDir()
			if err != nil {
				return nil, err
			}
			// The private directory's name is random: left out, so that answers of two runs compare equal.
			where := "in a private bpffs"
			if l.opts.PinDir != "" {
				where = "under " + dir
			}
			r.Defaults = append(r.Defaults, fmt.Sprintf("map %s: pinned by name %s", name, where))
		}
	}
	note, kc, err := kconfigDefaults(prog, l.opts.KernelConfig)
	if err != nil {
		return nil, err
	}
	if note != "" {
		r.Defaults = append(r.Defaults, note)
	}
	l.kconfig = kc
	return cs, nil
}

// trim returns a spec holding a copy of ps, the maps its instructions reference (subprograms are
// part of ps's instructions) and the variables of those maps: the program loads with what it
// needs, and a map it does not use cannot refuse it.
func trim(spec *ebpf.CollectionSpec, ps *ebpf.ProgramSpec) *ebpf.CollectionSpec {
	cs := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}, Programs: map[string]*ebpf.ProgramSpec{ps.Name: ps.Copy()},
		Variables: map[string]*ebpf.VariableSpec{}, Types: spec.Types, ByteOrder: spec.ByteOrder}
	for _, ins := range ps.Instructions {
		if !ins.IsLoadFromMap() || ins.Reference() == "" {
			continue
		}
		if m := spec.Maps[ins.Reference()]; m != nil && cs.Maps[m.Name] == nil {
			cs.Maps[ins.Reference()] = m.Copy()
		}
	}
	for name, v := range spec.Variables {
		if cs.Maps[v.SectionName] != nil {
			cs.Variables[name] = v.Copy()
		}
	}
	return cs
}

// retarget applies the user's PROG.target setting to prog.
func (l *loader) retarget(r *observation.ProgramLoad, prog *ebpf.ProgramSpec) {
	for _, s := range l.opts.Set {
		if s.Key != KeyTarget || s.Name != prog.Name || !s.appliesTo(l.obj.Name) {
			continue
		}
		r.Defaults = append(r.Defaults, fmt.Sprintf("program %s: target %q set to %q (--set)", prog.Name, prog.AttachTo, s.Value))
		prog.AttachTo, r.Target = s.Value, s.Value
	}
}

// perfMaxStack is the kernel's default kernel.perf_event_max_stack (PERF_MAX_STACK_DEPTH).
const perfMaxStack = 127

// size applies the user's MAP.max_entries setting to m, or gives a map sized 0 in the object
// the smallest size its type takes: user space sizes such maps when it starts.
func (l *loader) size(r *observation.ProgramLoad, m *ebpf.MapSpec) {
	for _, s := range l.opts.Set {
		if s.Key == KeyMaxEntries && s.Name == m.Name && s.appliesTo(l.obj.Name) {
			r.Defaults = append(r.Defaults, fmt.Sprintf("map %s: max_entries %d set to %d (--set)", m.Name, m.MaxEntries, s.MaxEntries))
			m.MaxEntries = s.MaxEntries
			return
		}
	}
	if m.Type == ebpf.StackTrace && m.ValueSize == 0 {
		// Tools size a stack map's values from kernel.perf_event_max_stack when they start.
		m.ValueSize = perfMaxStack * 8
		r.Defaults = append(r.Defaults, fmt.Sprintf("map %s: value_size 0 set to %d (%d frames of 8 bytes, the kernel's default perf_event_max_stack)", m.Name, m.ValueSize, perfMaxStack))
	}
	if m.MaxEntries != 0 {
		return
	}
	switch m.Type {
	case ebpf.PerfEventArray:
		// cilium/ebpf sizes it to the number of CPUs, as libbpf does.
	case ebpf.RingBuf, ebpf.UserRingbuf:
		m.MaxEntries = uint32(os.Getpagesize())
		r.Defaults = append(r.Defaults, fmt.Sprintf("map %s: max_entries 0 set to %d (one page, a ring buffer's smallest size)", m.Name, m.MaxEntries))
	default:
		m.MaxEntries = 1
		r.Defaults = append(r.Defaults, fmt.Sprintf("map %s: max_entries 0 set to 1", m.Name))
	}
}

// dropReferences removes the initial entries of m that name a program or map (a program array,
// a map of maps initialised in the object): loaded on its own, the program has neither, and an
// empty entry does not change whether the kernel takes it.
func dropReferences(m *ebpf.MapSpec) int {
	n := len(m.Contents)
	m.Contents = slices.DeleteFunc(m.Contents, func(kv ebpf.MapKV) bool {
		_, named := kv.Value.(string)
		return named
	})
	return n - len(m.Contents)
}

// pinDir returns the directory pinned maps go to, mounting a private bpffs the first time when
// the options name none.
func (l *loader) pinDir() (string, error) {
	if l.pins != nil {
		return l.pins.dir, nil
	}
	if l.opts.PinDir != "" {
		l.pins = &pinDir{dir: l.opts.PinDir}
		return l.pins.dir, nil
	}
	dir, err := os.MkdirTemp("", "bpfmatrix-pins-")
	if err != nil {
		return "", prepareError("a directory for pinned maps: %w", err)
	}
	if err := unix.Mount("bpf", dir, "bpf", 0, ""); err != nil {
		os.Remove(dir)
		return "", prepareError("mount a private bpffs for pinned maps on %s: %w", dir, err)
	}
	l.pins = &pinDir{dir: dir, mounted: true}
	return dir, nil
}

// pinDir is the directory of pinned maps; mounted when it is the loader's own bpffs.
type pinDir struct {
	dir     string
	mounted bool
}

// close unmounts and removes a private bpffs (its pins go with it).
func (p *pinDir) close() {
	if p.mounted {
		unix.Unmount(p.dir, unix.MNT_DETACH)
		os.Remove(p.dir)
	}
}
