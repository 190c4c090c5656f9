package probe

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf/btf"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
)

// kfuncCaptureCase is one kfunc load whose whole log becomes a golden file kfunc-<kind>.log.
type kfuncCaptureCase struct {
	kind     string
	selector string // variant, as in Options.ProgTypes
	kfunc    string // a FUNC name; "task_struct" (a struct) captures the not-a-function refusal
	nonGPL   bool
}

// kfuncCaptureCases are the kfunc answers worth keeping from a kernel: one per rule the host's
// kernel can show, and refusals the probe itself avoids (a non-GPL license).
var kfuncCaptureCases = []kfuncCaptureCase{
	{kind: "not-for-type", selector: "socket_filter", kfunc: "bpf_task_acquire"},
	{kind: "not-for-type-filter", selector: "tracing/tp_btf", kfunc: "bpf_sock_destroy"},
	{kind: "not-a-kfunc", selector: "socket_filter", kfunc: "vfs_read"},
	{kind: "bpf-trap", selector: "socket_filter", kfunc: "__bpf_trap"},
	{kind: "unknown-id", selector: "socket_filter", kfunc: "task_struct"},
	{kind: "non-gpl", selector: "socket_filter", kfunc: "bpf_rcu_read_lock", nonGPL: true},
	{kind: "sleepable-only", selector: "tracing/tp_btf", kfunc: "bpf_copy_from_user_str"},
	{kind: "sleepable-only-xdp", selector: "xdp", kfunc: "bpf_lookup_user_key"},
	{kind: "device-bound", selector: "xdp", kfunc: "bpf_xdp_metadata_rx_hash"},
	{kind: "device-bound-socket-filter", selector: "socket_filter", kfunc: "bpf_xdp_metadata_rx_hash"},
	{kind: "supported-loaded", selector: "socket_filter", kfunc: "bpf_get_kmem_cache"},
	{kind: "supported-trusted-null", selector: "tracing/tp_btf", kfunc: "bpf_task_acquire"},
	{kind: "supported-trusted-null-arg1", selector: "kprobe", kfunc: "bpf_stream_vprintk_impl"},
	{kind: "supported-sleepable", selector: "tracing/iter.s", kfunc: "bpf_copy_from_user_str"},
	{kind: "supported-syscall", selector: "syscall", kfunc: "bpf_copy_from_user_str"},
	{kind: "supported-iter-filter", selector: "tracing/iter", kfunc: "bpf_sock_destroy"},
	{kind: "supported-struct-ops", selector: "struct_ops/tcp_ca", kfunc: "tcp_reno_ssthresh"},
	{kind: "supported-unreleased", selector: "tracing/tp_btf", kfunc: "bpf_cgroup_from_id"},
	{kind: "supported-rcu-region", selector: "socket_filter", kfunc: "bpf_rcu_read_lock"},
	{kind: "supported-preempt-region", selector: "socket_filter", kfunc: "bpf_preempt_disable"},
	{kind: "supported-rcu-unmatched", selector: "socket_filter", kfunc: "bpf_rcu_read_unlock"},
	{kind: "supported-preempt-unmatched", selector: "socket_filter", kfunc: "bpf_preempt_enable"},
	{kind: "supported-obj-new", selector: "tracing/tp_btf", kfunc: "bpf_obj_new_impl"},
	{kind: "supported-throw-retval", selector: "cgroup_sock_addr/recvmsg4", kfunc: "bpf_throw"},
	{kind: "lsm-eperm", selector: "lsm/lsm", kfunc: "bpf_task_acquire"},
}

// TestCaptureKfuncLogs writes the golden logs of kfuncCaptureCases from the running kernel into
// testdata/verifier-logs/host-<series>/kfunc-<kind>.log; cases whose kfunc the kernel lacks are
// skipped. It runs only when BPFMATRIX_CAPTURE_LOGS is set:
//
//	BPFMATRIX_CAPTURE_LOGS=1 go test ./probe -run TestCaptureKfuncLogs
func TestCaptureKfuncLogs(t *testing.T) {
	if os.Getenv("BPFMATRIX_CAPTURE_LOGS") == "" {
		t.Skip("set BPFMATRIX_CAPTURE_LOGS=1 to rewrite testdata/verifier-logs/host-*/kfunc-*")
	}
	requireRoot(t)
	k, err := readKernelBTF()
	if err != nil || k == nil {
		t.Fatalf("kernel BTF: %v", err)
	}
	l := newLoader(64 << 10)
	for _, c := range kfuncCaptureCases {
		p, err := New(testRegistry(t), Options{ProgTypes: []string{c.selector}, Helpers: []int{5}})
		if err != nil {
			t.Fatal(err)
		}
		v := p.variants[0]
		prog := v.prog
		if !v.info.Usable && v.spec.target == targetFunc {
			id, _, _ := typeID[*btf.Func](k, v.spec.candidates[0]) // keep the refusal on file
			prog.attachBTFID = uint32(id)
		}
		types, err := k.spec.AnyTypesByName(c.kfunc)
		if err != nil {
			t.Logf("%s: the kernel has no %s", c.kind, c.kfunc)
			continue
		}
		id, err := k.spec.TypeID(types[0])
		if err != nil {
			t.Fatal(err)
		}
		insns, err := bpfasm.Marshal(bpfasm.KfuncProbeProgram(uint32(id), v.spec.ret))
		if err != nil {
			t.Fatal(err)
		}
		res := l.load(&prog, insns, !c.nonGPL)
		text, license := "errno 0", "GPL"
		if res.errno != 0 {
			text = res.errno.Error()
		}
		if c.nonGPL {
			license = "MIT"
		}
		header := fmt.Sprintf("# kernel=%s errno=%d (%s) variant=%s kfunc=%s btf_id=%d license=%s\n",
			p.facts.Kernel.Release, int(res.errno), text, c.selector, c.kfunc, id, license)
		dir := captureDir(p.facts.Kernel.Release)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "kfunc-"+c.kind+".log"), []byte(header+res.log), 0o644); err != nil {
			t.Fatal(err)
		}
		outcome, detail, flags := ClassifyKfunc(res.errno, res.log)
		t.Logf("%s: %s (%s) %v", c.kind, outcome, detail, flags)
	}
}
