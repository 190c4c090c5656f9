package probe

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// knownKfuncsText lists, one a line, the kfunc names bpfmatrix knows: newer kernels' BTF tags
// (the Debian kernels 6.12 to 7.3 and the development host) and the test kfuncs Debian's 6.1
// registers, which later kernels moved out of vmlinux. Kernels whose BTF predates the tag (5.10,
// 6.1) are asked about these names. `bpfmatrix kfuncs sync` refreshes it.
//
//go:embed knownkfuncs.txt
var knownKfuncsText string

// KnownKfuncs returns the kfunc names bpfmatrix knows from newer kernels, sorted.
func KnownKfuncs() []string {
	var names []string
	for _, line := range strings.Split(knownKfuncsText, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			names = append(names, line)
		}
	}
	return names
}

// kfunc is one kfunc the kfunc pass asks about.
type kfunc struct {
	name string
	id   btf.TypeID // its FUNC's id in its BTF (vmlinux's, or the module's split BTF): the call's imm
	fact int        // index of its entry in Facts.Kfuncs, where the flags the logs show go
	// module names the module whose BTF defines it; empty for vmlinux.
	module string
	// off is the call's off: 0 for vmlinux (and for a module whose BTF could not be opened),
	// else the index in the load's fd_array of the module's BTF fd.
	off int16
}

// kfuncDiscovery is what the kernel's BTF says about its kfuncs.
type kfuncDiscovery struct {
	// kfuncs are vmlinux's, by name, then the modules', by module and name.
	kfuncs []observation.Kfunc
	// ids are the FUNC ids of the kfuncs in their BTF: ids[i] belongs to kfuncs[i].
	ids []btf.TypeID
	// vmlinux is how many of kfuncs are vmlinux's (the first ones).
	vmlinux int
	// absent are the known names this kernel has no kfunc for.
	absent []string
	// notes say what could not be read (a module's BTF), for the probe's log.
	notes []string
}

// discoverKfuncs finds the kfuncs of the kernel whose BTF k was read from btfDir/vmlinux (the
// bytes k holds, or the file when it holds none): the FUNCs tagged kfuncTag in vmlinux and in
// every module's split BTF in btfDir. When vmlinux has no tag at all (its BTF predates them), the known names that vmlinux has a FUNC for stand in,
// untagged. Known names that are no kfunc here are absent.
func discoverKfuncs(k *kernelBTF, btfDir string, known []string) (*kfuncDiscovery, error) {
	raw := k.raw
	if raw == nil {
		var err error
		if raw, err = os.ReadFile(filepath.Join(btfDir, "vmlinux")); err != nil {
			return nil, fmt.Errorf("kfuncs: %w", err)
		}
	}
	vm, err := scanBTF(raw, 1, nil)
	if err != nil {
		return nil, fmt.Errorf("kfuncs: vmlinux: %w", err)
	}
	d := &kfuncDiscovery{}
	byID := map[btf.TypeID]*btf.Func{}
	for _, id := range vm.tagged {
		if fn, ok := funcByID(k.spec, id); ok {
			byID[id] = fn
		}
	}
	tagged := len(byID) > 0
	if !tagged {
		for _, name := range known {
			if id, fn, ok := typeID[*btf.Func](k, name); ok {
				byID[id] = fn
			}
		}
	}
	for id, fn := range byID {
		d.kfuncs = append(d.kfuncs, observation.Kfunc{Name: fn.Name, Prototype: cPrototype(fn), Tagged: tagged})
		d.ids = append(d.ids, id)
	}
	sortKfuncs(d.kfuncs, d.ids)
	d.vmlinux = len(d.kfuncs)
	d.addModules(k, btfDir, vm)
	have := map[string]bool{}
	for _, kf := range d.kfuncs {
		have[kf.Name] = true
	}
	for _, name := range known {
		if !have[name] {
			d.absent = append(d.absent, name)
		}
	}
	return d, nil
}

// funcByID returns the FUNC with BTF id id.
func funcByID(spec *btf.Spec, id btf.TypeID) (*btf.Func, bool) {
	t, err := spec.TypeByID(id)
	if err != nil {
		return nil, false
	}
	fn, ok := t.(*btf.Func)
	return fn, ok
}

// sortKfuncs orders kfuncs (and their ids alike) by name.
func sortKfuncs(kfuncs []observation.Kfunc, ids []btf.TypeID) {
	idx := make([]int, len(kfuncs))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return kfuncs[idx[a]].Name < kfuncs[idx[b]].Name })
	k2, i2 := slices.Clone(kfuncs), slices.Clone(ids)
	for to, from := range idx {
		kfuncs[to], ids[to] = k2[from], i2[from]
	}
}

// addModules appends the tagged functions of every loaded module's BTF (a call to one names the
// module's BTF through the load's fd_array, see moduleBTF). A module whose BTF cannot be read
// is noted and skipped.
func (d *kfuncDiscovery) addModules(k *kernelBTF, btfDir string, vm *rawBTF) {
	entries, err := os.ReadDir(btfDir)
	if err != nil {
		d.notes = append(d.notes, fmt.Sprintf("module BTF: %v", err))
		return
	}
	for _, e := range entries { // ReadDir sorts by name
		if e.Name() == "vmlinux" {
			continue
		}
		kfuncs, ids, err := moduleKfuncs(k, filepath.Join(btfDir, e.Name()), vm)
		if err != nil {
			d.notes = append(d.notes, fmt.Sprintf("module %s: %v", e.Name(), err))
			continue
		}
		for i := range kfuncs {
			kfuncs[i].Module = e.Name()
		}
		d.kfuncs = append(d.kfuncs, kfuncs...)
		d.ids = append(d.ids, ids...)
	}
}

// moduleKfuncs returns the tagged functions of one module's split BTF, by name, with their
// ids in it (which continue vmlinux's).
func moduleKfuncs(k *kernelBTF, path string, vm *rawBTF) ([]observation.Kfunc, []btf.TypeID, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	scan, err := scanBTF(raw, btf.TypeID(vm.types+1), vm)
	if err != nil || len(scan.tagged) == 0 {
		return nil, nil, err // most modules have no kfunc: spare them the parse
	}
	spec, err := btf.LoadSplitSpecFromReader(bytes.NewReader(raw), k.spec)
	if err != nil {
		return nil, nil, err
	}
	var out []observation.Kfunc
	var ids []btf.TypeID
	seen := map[string]bool{}
	for _, id := range scan.tagged {
		if fn, ok := funcByID(spec, id); ok && !seen[fn.Name] {
			seen[fn.Name] = true
			out = append(out, observation.Kfunc{Name: fn.Name, Prototype: cPrototype(fn), Tagged: true})
			ids = append(ids, id)
		}
	}
	sortKfuncs(out, ids)
	return out, ids, nil
}

// logKfuncs says what discovery found, before a run starts.
func (d *kfuncDiscovery) log(w io.Writer) {
	modules := 0
	tagged := len(d.kfuncs) > 0 && d.kfuncs[0].Tagged
	for _, kf := range d.kfuncs {
		if kf.Module != "" {
			modules++
		}
	}
	how := "tagged bpf_kfunc in BTF"
	if !tagged && d.vmlinux > 0 {
		how = "known names found in BTF (it has no bpf_kfunc tags)"
	}
	fmt.Fprintf(w, "probe: %d vmlinux kfuncs (%s), %d module kfuncs, %d known names absent\n",
		d.vmlinux, how, modules, len(d.absent))
	for _, n := range d.notes {
		fmt.Fprintf(w, "probe: kfuncs: %s\n", n)
	}
}
