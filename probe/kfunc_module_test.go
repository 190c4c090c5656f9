package probe

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// TestModuleKfuncCallReachesFdArray loads a module-kfunc call on this host and checks that the
// kernel reads the call's off from the load's fd_array: without an fd_array it says so, and
// with vmlinux's BTF fd at that index it says the fd is not a module's (this host's kernel has
// no module BTF to call into; the guests' kernels do).
func TestModuleKfuncCallReachesFdArray(t *testing.T) {
	testenv.NeedRoot(t)
	vm, err := btf.FindHandle(func(info *btf.HandleInfo) bool { return info.IsVmlinux() })
	testenv.Need(t, err, "a kernel with BTF")
	defer vm.Close()
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	var fn *btf.Func
	if err := spec.TypeByName("bpf_rcu_read_lock", &fn); err != nil {
		t.Skipf("no kfunc bpf_rcu_read_lock on this kernel: %v", err)
	}
	id, err := spec.TypeID(fn)
	if err != nil {
		t.Fatal(err)
	}
	insns, err := bpfasm.Marshal(bpfasm.ModuleKfuncProbeProgram(uint32(id), 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		fdArray []int32
		want    string
	}{
		{"no fd_array", nil, "without fd_array"},
		{"vmlinux BTF at the index", []int32{-1, int32(vm.FD())}, "not a module BTF"},
	}
	for _, tt := range tests {
		prog := program{progType: uint32(ebpf.SocketFilter), fdArray: tt.fdArray}
		res := newLoader(defaultLogSize).load(&prog, insns, true)
		if res.errno == 0 || !strings.Contains(res.log, tt.want) {
			t.Errorf("%s: errno %v, log %q; want a refusal saying %q", tt.name, res.errno, res.log, tt.want)
		}
	}
}
