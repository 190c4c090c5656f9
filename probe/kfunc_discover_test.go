package probe

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// TestKnownKfuncsSortedUnique: the embedded list is what `bpfmatrix kfuncs sync` writes and what
// old kernels are asked about; a duplicate or an unsorted line means it was edited by hand.
func TestKnownKfuncsSortedUnique(t *testing.T) {
	names := KnownKfuncs()
	if len(names) < 300 {
		t.Fatalf("%d known kfuncs; 7.3 alone tags 312", len(names))
	}
	for i, n := range names {
		if strings.ContainsAny(n, " \t") {
			t.Errorf("line %q holds more than a name", n)
		}
		if i > 0 && names[i-1] >= n {
			t.Errorf("%q follows %q: the list must be sorted and unique", n, names[i-1])
		}
	}
}

// synthKernel writes a small vmlinux BTF into a new directory: a kfunc bpf_task_acquire, a
// function nothing registers, and, when tagged, the bpf_kfunc tag on the first. It returns the
// directory and the kernelBTF New would have read from it.
func synthKernel(t *testing.T, tagged bool) (string, *kernelBTF) {
	t.Helper()
	intT := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	task := &btf.Struct{Name: "task_struct"}
	taskPtr := &btf.Pointer{Target: task}
	acquire := &btf.Func{Name: "bpf_task_acquire", Linkage: btf.GlobalFunc,
		Type: &btf.FuncProto{Return: taskPtr, Params: []btf.FuncParam{{Name: "p", Type: taskPtr}}}}
	plain := &btf.Func{Name: "plain_function", Linkage: btf.GlobalFunc,
		Type: &btf.FuncProto{Return: intT, Params: []btf.FuncParam{{Name: "x", Type: intT}}}}
	if tagged {
		acquire.Tags = []string{kfuncTag}
		plain.Tags = []string{"bpf_fastcall"} // a tag, but not the one that makes a kfunc
	}
	raw := testenv.MarshalBTF(t, intT, acquire, plain)
	dir := t.TempDir()
	testenv.WriteFile(t, filepath.Join(dir, "vmlinux"), raw)
	spec, err := btf.LoadSpec(filepath.Join(dir, "vmlinux"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, &kernelBTF{spec: spec}
}

func TestDiscoverTaggedKernel(t *testing.T) {
	dir, k := synthKernel(t, true)
	d, err := discoverKfuncs(k, dir, []string{"bpf_gone", "bpf_task_acquire", "plain_function"})
	if err != nil {
		t.Fatal(err)
	}
	want := []observation.Kfunc{{Name: "bpf_task_acquire", Prototype: "struct task_struct *bpf_task_acquire(struct task_struct *p)", Tagged: true}}
	if !slices.EqualFunc(d.kfuncs, want, kfuncEqual) || len(d.ids) != 1 {
		t.Fatalf("kfuncs %+v (ids %v), want %+v", d.kfuncs, d.ids, want)
	}
	// On a tagged kernel an untagged function is no kfunc, whatever newer kernels make of it.
	if !slices.Equal(d.absent, []string{"bpf_gone", "plain_function"}) {
		t.Fatalf("absent %v", d.absent)
	}
}

// TestDiscoverUntaggedKernel is the 5.10 and 6.1 case: no tag anywhere, so the known names
// that are functions here are probed, untagged, and the others are absent.
func TestDiscoverUntaggedKernel(t *testing.T) {
	dir, k := synthKernel(t, false)
	d, err := discoverKfuncs(k, dir, []string{"bpf_gone", "bpf_task_acquire"})
	if err != nil {
		t.Fatal(err)
	}
	want := []observation.Kfunc{{Name: "bpf_task_acquire", Prototype: "struct task_struct *bpf_task_acquire(struct task_struct *p)"}}
	if !slices.EqualFunc(d.kfuncs, want, kfuncEqual) || len(d.ids) != 1 {
		t.Fatalf("kfuncs %+v, want %+v", d.kfuncs, want)
	}
	if !slices.Equal(d.absent, []string{"bpf_gone"}) {
		t.Fatalf("absent %v", d.absent)
	}
}

func kfuncEqual(a, b observation.Kfunc) bool {
	return a.Name == b.Name && a.Prototype == b.Prototype && a.Module == b.Module && a.Tagged == b.Tagged && slices.Equal(a.Flags, b.Flags)
}

// TestDiscoverModuleKfuncs writes a module's split BTF by hand (cilium/ebpf cannot marshal split
// BTF): two tagged functions whose tag names sit in the module's own strings and in vmlinux's.
// They are listed with their module and prototype, and with their ids in the module's split BTF
// (the calls' imm).
func TestDiscoverModuleKfuncs(t *testing.T) {
	dir, k := synthKernel(t, true)
	base, err := os.ReadFile(filepath.Join(dir, "vmlinux"))
	if err != nil {
		t.Fatal(err)
	}
	vm, err := scanBTF(base, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	intID, err := k.spec.TypeID(mustType[*btf.Int](t, k.spec, "int"))
	if err != nil {
		t.Fatal(err)
	}
	baseTag := bytes.Index(vm.strs, []byte("\x00"+kfuncTag+"\x00")) + 1
	if baseTag == 0 {
		t.Fatal("vmlinux strings lack the tag name")
	}
	mod := splitBTF(vm, uint32(intID), uint32(baseTag))
	testenv.WriteFile(t, filepath.Join(dir, "mod_test"), mod)
	d, err := discoverKfuncs(k, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.notes) > 0 {
		t.Fatalf("notes: %v", d.notes)
	}
	want := []observation.Kfunc{
		{Name: "bpf_task_acquire", Prototype: "struct task_struct *bpf_task_acquire(struct task_struct *p)", Tagged: true},
		{Name: "mod_kfunc_a", Prototype: "int mod_kfunc_a(int x)", Module: "mod_test", Tagged: true},
		{Name: "mod_kfunc_b", Prototype: "int mod_kfunc_b(int x)", Module: "mod_test", Tagged: true},
	}
	if !slices.EqualFunc(d.kfuncs, want, kfuncEqual) {
		t.Fatalf("kfuncs\n%+v\nwant\n%+v", d.kfuncs, want)
	}
	if len(d.ids) != len(want) || d.vmlinux != 1 {
		t.Fatalf("%d ids, %d of vmlinux; want %d, 1", len(d.ids), d.vmlinux, len(want))
	}
	split, err := btf.LoadSplitSpecFromReader(bytes.NewReader(mod), k.spec)
	if err != nil {
		t.Fatal(err)
	}
	for i := d.vmlinux; i < len(want); i++ {
		fn, ok := funcByID(split, d.ids[i])
		if !ok || fn.Name != want[i].Name {
			t.Errorf("id %d of %s names %v in the module's BTF", d.ids[i], want[i].Name, fn)
		}
	}
}

func mustType[T btf.Type](t *testing.T, spec *btf.Spec, name string) T {
	t.Helper()
	var v T
	if err := spec.TypeByName(name, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// splitBTF returns module BTF on top of vm: FUNC_PROTO int(int x), FUNC mod_kfunc_a and
// mod_kfunc_b of that prototype, and a bpf_kfunc DECL_TAG on each: the first tag's name in the
// module's strings, the second's at baseTag in vmlinux's.
func splitBTF(vm *rawBTF, intID, baseTag uint32) []byte {
	own := "\x00x\x00mod_kfunc_a\x00mod_kfunc_b\x00" + kfuncTag + "\x00"
	str := func(s string) uint32 { return uint32(len(vm.strs) + strings.Index(own, "\x00"+s+"\x00") + 1) }
	first := uint32(vm.types + 1)
	info := func(kind, vlen uint32) uint32 { return kind<<24 | vlen }
	var types []uint32
	types = append(types, 0, info(13, 1), intID, str("x"), intID)          // first: FUNC_PROTO
	types = append(types, str("mod_kfunc_a"), info(btfKindFunc, 1), first) // first+1: FUNC (global)
	types = append(types, str("mod_kfunc_b"), info(btfKindFunc, 1), first) // first+2
	types = append(types, str(kfuncTag), info(btfKindDeclTag, 0), first+1, 0xffffffff)
	types = append(types, baseTag, info(btfKindDeclTag, 0), first+2, 0xffffffff)
	var buf bytes.Buffer
	le := binary.LittleEndian
	typeLen := uint32(len(types) * 4)
	hdr := []any{uint16(btfHeaderMagic), uint8(1), uint8(0), uint32(24), uint32(0), typeLen, typeLen, uint32(len(own))}
	for _, v := range hdr {
		binary.Write(&buf, le, v)
	}
	binary.Write(&buf, le, types)
	buf.WriteString(own)
	return buf.Bytes()
}

// TestScanBTFAgreesWithCilium checks the byte scan against cilium/ebpf's full decoding of the
// running kernel's BTF: the same tagged functions.
func TestScanBTFAgreesWithCilium(t *testing.T) {
	raw, err := os.ReadFile(vmlinuxBTF)
	testenv.Need(t, err, "boot the host with a kernel built with CONFIG_DEBUG_INFO_BTF, as Debian's are")
	scan, err := scanBTF(raw, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	types := 0
	for typ, err := range spec.All() {
		if err != nil {
			t.Fatal(err)
		}
		types++
		if fn, ok := typ.(*btf.Func); ok && slices.Contains(fn.Tags, kfuncTag) {
			want = append(want, fn.Name)
		}
	}
	var got []string
	for _, id := range scan.tagged {
		fn, ok := funcByID(spec, id)
		if !ok {
			t.Fatalf("tag on type %d, which is no function", id)
		}
		got = append(got, fn.Name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(slices.Compact(got), want) {
		t.Fatalf("scan found %d tagged functions, cilium/ebpf %d", len(got), len(want))
	}
	if scan.types < types { // All skips DECL_TAGs, the scan counts every type
		t.Fatalf("scan counted %d types, cilium/ebpf iterated %d", scan.types, types)
	}
	t.Logf("%d tagged kfuncs among %d types", len(want), scan.types)
}

func TestScanBTFRejectsGarbage(t *testing.T) {
	for name, raw := range map[string][]byte{
		"short":     {0x9f, 0xeb},
		"magic":     make([]byte, 32),
		"outside":   append([]byte{0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0}, make([]byte, 16)...),
		"truncated": append([]byte{0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 8)...),
	} {
		if _, err := scanBTF(raw, 1, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
