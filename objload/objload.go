// Package objload loads a user's compiled BPF object into the running kernel, each program on
// its own with only the maps it references, and says per program whether the kernel took it
// and, when not, why (an observation.Cause and the line that decided it). It is what a guest
// of `bpfmatrix load` runs, and what its tests run on the host.
//
// What a loader sets at run time (a map's size left 0, a pin path, .kconfig values, a
// placeholder attach target) gets a default that does not hide a kernel limit, or the user's
// --set word (Setting); each is noted in the answer's Defaults. The verifier's words are read
// by probe/verifierlog (its Loads reader); cilium/ebpf's own words by the rules of cause.go.
package objload

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/bpfobj"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// Object names one object file to load.
type Object struct {
	// Path is the file to read.
	Path string
	// Name is the object's file name as the user gave it, for the answers; "" means Path's
	// base name.
	Name string
	// SHA256 is the hex SHA-256 of the file, copied into the answers.
	SHA256 string
}

// Options is what a load may set besides the object itself.
type Options struct {
	// Set holds the user's --set words, already parsed; each applies where its object and name
	// match.
	Set []Setting
	// Attach asks for each program that loaded and whose section names a target to be attached
	// too, and detached again.
	Attach bool
	// PinDir is the bpffs directory maps pinned by name go to; "" mounts a private bpffs in a
	// temporary directory for the object (and unmounts it after), so that nothing outside the
	// load sees its pins.
	PinDir string
	// KernelConfig is the kernel's build configuration the .kconfig externs are read from; ""
	// leaves them to cilium/ebpf, which reads /boot/config-RELEASE or /proc/config.gz.
	KernelConfig string
	// BTFCache holds the kernel's BTF once decoded, for CO-RE relocations and attach targets:
	// decoding it is most of a small program's load time, so a caller loading several objects
	// shares one. Nil makes one per Load.
	BTFCache *btf.Cache
}

// logTail bounds the verifier log kept in an answer.
const logTail = 4 << 10

// Load loads every program of the object at obj.Path in the running kernel, each on its own with
// the maps it references, and calls emit once per program, in bpfobj's program order. A file
// that is no BPF object is an error (wrapping bpfobj.ErrBadInput); an object cilium/ebpf's loader
// cannot take is not: each of its programs, read from the ELF, is answered with CauseLoader and
// the loader's words. Load stops at the first error of emit, and when ctx is done.
func Load(ctx context.Context, obj Object, opts Options, emit func(observation.ProgramLoad) error) error {
	o, err := bpfobj.Read(obj.Path)
	if err != nil {
		return err
	}
	if obj.Name == "" {
		obj.Name = filepath.Base(obj.Path)
	}
	if opts.BTFCache == nil {
		opts.BTFCache = btf.NewCache()
	}
	l := &loader{obj: obj, opts: opts, spec: o.Spec}
	defer l.close()
	for _, p := range o.Programs {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := answer(obj, p)
		if o.Spec == nil {
			r.Cause, r.Reason = observation.CauseLoader, "cilium/ebpf: "+o.LoaderError
		} else {
			l.program(&r)
		}
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

// answer is the record of p before any kernel was asked.
func answer(obj Object, p bpfobj.Program) observation.ProgramLoad {
	return observation.ProgramLoad{Object: obj.Name, ObjectSHA256: obj.SHA256, Program: p.Name, Section: p.Section,
		ProgType: p.ProgType, AttachType: p.AttachType, Target: p.Target}
}

// loader loads the programs of one object.
type loader struct {
	obj  Object
	opts Options
	spec *ebpf.CollectionSpec
	// pins is the bpffs of pinned maps, made when the first program needs it.
	pins *pinDir
	// kconfig is the .kconfig map of the program being loaded, when prepare made one.
	kconfig *ebpf.Map
	// maps are the object's maps created so far, kept for its next programs: every program
	// gets the same spec of a map (defaults and settings are per map), and creating a large
	// preallocated map is most of what loading a small program costs.
	maps map[string]*ebpf.Map
}

// madeMaps returns the maps of cs already created for an earlier program of the object.
func (l *loader) madeMaps(cs *ebpf.CollectionSpec) map[string]*ebpf.Map {
	out := map[string]*ebpf.Map{}
	for name := range cs.Maps {
		if m := l.maps[name]; m != nil {
			out[name] = m
		}
	}
	return out
}

// keepMaps takes the maps coll created for the object's next programs.
func (l *loader) keepMaps(coll *ebpf.Collection, cs *ebpf.CollectionSpec) {
	if l.maps == nil {
		l.maps = map[string]*ebpf.Map{}
	}
	for name := range cs.Maps {
		if l.maps[name] == nil {
			if m := coll.DetachMap(name); m != nil {
				l.maps[name] = m
			}
		}
	}
}

func (l *loader) close() {
	for _, m := range l.maps {
		m.Close()
	}
	if l.pins != nil {
		l.pins.close()
	}
}

// program loads the program r names and fills in the rest of r.
func (l *loader) program(r *observation.ProgramLoad) {
	start := time.Now()
	defer func() { r.Seconds = time.Since(start).Seconds() }()
	ps := l.spec.Programs[r.Program]
	switch {
	case ps == nil:
		r.Cause, r.Reason = observation.CauseLoader, "cilium/ebpf: no program "+r.Program+" in the object"
		return
	case ps.Type == ebpf.UnspecifiedProgram:
		r.Cause, r.Reason = observation.CauseLoader, "cilium/ebpf: section "+r.Section+" names no program type it knows"
		return
	}
	cs, err := l.prepare(r, ps)
	if l.kconfig != nil {
		defer func() { l.kconfig.Close(); l.kconfig = nil }()
	}
	switch {
	case errors.Is(err, errPrepare):
		r.Cause, r.Reason = classifyPrepare(err)
		return
	case err != nil: // the .kconfig map made for the program
		r.Cause, r.Reason = classifyMap(err)
		return
	}
	copts := ebpf.CollectionOptions{Cache: l.opts.BTFCache, MapReplacements: l.madeMaps(cs)}
	if l.pins != nil {
		copts.Maps.PinPath = l.pins.dir
	}
	coll, err := ebpf.NewCollectionWithOptions(cs, copts)
	if err != nil {
		// Only now are the maps created on their own: a map the kernel refuses is told apart
		// from a program it refuses, and a program that loads does not pay for its maps twice.
		if merr := createMaps(cs, copts); merr != nil {
			r.Cause, r.Reason = classifyMap(merr)
			return
		}
		r.Cause, r.Reason, r.Log = classifyProgram(err, cs.Programs[r.Program])
		return
	}
	l.keepMaps(coll, cs)
	defer coll.Close()
	r.Loaded = true
	if l.opts.Attach {
		l.attach(r, coll.Programs[r.Program], cs.Programs[r.Program])
	}
}

// createMaps creates the maps of cs (and closes them again) before any program is loaded, so
// that a map the kernel refuses is told apart from a program it refuses.
func createMaps(cs *ebpf.CollectionSpec, copts ebpf.CollectionOptions) error {
	maps := &ebpf.CollectionSpec{Maps: cs.Maps, Variables: cs.Variables, Types: cs.Types, ByteOrder: cs.ByteOrder}
	coll, err := ebpf.NewCollectionWithOptions(maps, copts)
	if err != nil {
		return err
	}
	coll.Close()
	return nil
}

// errPrepare marks the errors of preparing a program's spec: what the loader refuses before a
// kernel is asked.
var errPrepare = errors.New("preparing the program")

// prepareError wraps err as a refusal of the preparation.
func prepareError(format string, a ...any) error {
	return fmt.Errorf("%w: %w", errPrepare, fmt.Errorf(format, a...))
}
