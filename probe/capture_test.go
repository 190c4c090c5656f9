package probe

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// captureDir is where TestCaptureHostLogs writes, named after the kernel series it ran on.
func captureDir(release string) string {
	series := release
	if i := strings.IndexAny(release, "-+"); i >= 0 {
		series = release[:i]
	}
	return filepath.Join("testdata", "verifier-logs", "host-"+series)
}

// captureCase is one load whose whole log becomes a golden file.
type captureCase struct {
	kind     string // file name without .log
	selector string // variant, as in Options.ProgTypes
	id       int    // helper id; -1 means one past the kernel's last
	gpl      bool
	// adjust changes the variant's load parameters or return value, to capture refusals the
	// probe itself avoids.
	adjust func(prog *program, ret *int32)
}

var captureCases = []captureCase{
	{kind: "unknown-id", selector: "socket_filter", id: -1, gpl: true},
	{kind: "not-for-type", selector: "socket_filter", id: 4, gpl: true},
	{kind: "gpl-only", selector: "kprobe", id: 4},
	{kind: "supported-arg-error", selector: "kprobe", id: 4, gpl: true},
	{kind: "supported-loaded", selector: "xdp", id: 5, gpl: true},
	{kind: "supported-arg-map", selector: "socket_filter", id: 1},
	{kind: "supported-arg-func", selector: "xdp", id: 181},
	{kind: "not-for-target", selector: "tracing/tp_btf", id: 147, gpl: true},
	{kind: "sleepable-only", selector: "tracing/tp_btf", id: 148, gpl: true},
	{kind: "sleepable-only-iter", selector: "tracing/iter", id: 148, gpl: true},
	{kind: "supported-iter-sleepable", selector: "tracing/iter.s", id: 148, gpl: true},
	{kind: "supported-uprobe-sleepable", selector: "kprobe/uprobe.s", id: 148, gpl: true},
	{kind: "syscall", selector: "syscall", id: 5, gpl: true},
	{kind: "syscall-not-sleepable", selector: "syscall", id: 5, gpl: true,
		adjust: func(p *program, _ *int32) { p.flags &^= unix.BPF_F_SLEEPABLE }},
	{kind: "netfilter", selector: "netfilter", id: 5, gpl: true},
	{kind: "sk-lookup", selector: "sk_lookup", id: 5, gpl: true},
	{kind: "cgroup-sockopt", selector: "cgroup_sockopt/setsockopt", id: 5, gpl: true},
	{kind: "struct-ops", selector: "struct_ops/tcp_ca", id: 5, gpl: true},
	{kind: "struct-ops-non-gpl", selector: "struct_ops/tcp_ca", id: 5},
	// The probe returns 1 from recvmsg hooks; returning 0 gets a message no rule knows, and
	// the classifier must say so instead of guessing.
	{kind: "recvmsg-returns-0", selector: "cgroup_sock_addr/recvmsg4", id: 5, gpl: true,
		adjust: func(_ *program, ret *int32) { *ret = 0 }},
	{kind: "lirc-mode2", selector: "lirc_mode2", id: 5, gpl: true},
	{kind: "fentry-eperm", selector: "tracing/fentry", id: 5, gpl: true},
	{kind: "lsm-eperm", selector: "lsm/lsm", id: 5, gpl: true},
}

// TestCaptureHostLogs writes the golden logs of captureCases from the running kernel into
// testdata/verifier-logs/host-<series>/. It runs only when BPFMATRIX_CAPTURE_LOGS is set:
//
//	BPFMATRIX_CAPTURE_LOGS=1 go test ./probe -run TestCaptureHostLogs
func TestCaptureHostLogs(t *testing.T) {
	testenv.NeedCaptureLogs(t, "testdata/verifier-logs/host-*")
	requireRoot(t)
	reg := testRegistry(t)
	l := newLoader(64 << 10)
	for _, c := range captureCases {
		p, err := New(reg, Options{ProgTypes: []string{c.selector}, Helpers: []int{5}})
		if err != nil {
			t.Fatal(err)
		}
		v := p.variants[0]
		prog, ret := v.prog, v.spec.ret
		if !v.info.Usable && v.spec.target == targetFunc {
			// Keep the first candidate target so that the refusal is on file.
			k, err := readKernelBTF()
			if err != nil {
				t.Fatal(err)
			}
			id, _, _ := typeID[*btf.Func](k, v.spec.candidates[0])
			prog.attachBTFID = uint32(id)
		}
		if c.adjust != nil {
			c.adjust(&prog, &ret)
		}
		id := c.id
		if id < 0 {
			id = p.maxID
		}
		insns, err := bpfasm.Marshal(bpfasm.ProbeProgramReturning(id, ret))
		if err != nil {
			t.Fatal(err)
		}
		res := l.load(&prog, insns, c.gpl)
		license := "MIT"
		if c.gpl {
			license = "GPL"
		}
		variant := v.spec.progType
		if v.spec.name != v.spec.progType {
			variant += "/" + v.spec.name
		}
		text := "errno 0"
		if res.errno != 0 {
			text = res.errno.Error()
		}
		header := fmt.Sprintf("# kernel=%s errno=%d (%s) variant=%s id=%d license=%s\n",
			p.facts.Kernel.Release, int(res.errno), text, variant, id, license)
		dir := captureDir(p.facts.Kernel.Release)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		testenv.WriteFile(t, filepath.Join(dir, c.kind+".log"), []byte(header+res.log))
		outcome, detail := Classify(res.errno, res.log)
		t.Logf("%s: %s (%s)", c.kind, outcome, detail)
	}
}

// kfuncCaptureCase is one kfunc load whose whole log becomes a golden file kfunc-<kind>.log.
type kfuncCaptureCase struct {
	kind     string
	selector string // variant, as in Options.ProgTypes
	kfunc    string // a FUNC name; "task_struct" (a struct) captures the not-a-function refusal
	nonGPL   bool
	// refusedVariant marks a case kept for the kernel's refusal of the variant itself: it is
	// written only where the kernel refuses the variant's trivial program, the others only
	// where it loads it.
	refusedVariant bool
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
	// A kernel in lockdown refuses programs that need a trampoline before verification.
	{kind: "lsm-eperm", selector: "lsm/lsm", kfunc: "bpf_task_acquire", refusedVariant: true},
}

// kfuncCapture is one golden kfunc log.
type kfuncCapture struct {
	file   string             // kfunc-<kind>.log
	text   string             // the header line, then the whole verifier log
	result observation.Result // what ClassifyKfunc made of the load
}

// captureKfuncLogs loads every case of kfuncCaptureCases into the running kernel and returns
// the prober it made (for the kernel's facts) and a golden log per case. A case whose kfunc
// the kernel lacks, or whose variant it lacks (see kfuncCaptureCase.refusedVariant), is left
// out and told to logf. Host and guests capture with it, so their files mean the same.
func captureKfuncLogs(reg *registry.Registry, logf func(format string, args ...any)) (*Prober, []kfuncCapture, error) {
	selectors := make([]string, len(kfuncCaptureCases))
	for i, c := range kfuncCaptureCases {
		selectors[i] = c.selector
	}
	p, err := New(reg, Options{ProgTypes: selectors, Helpers: []int{5}})
	if err != nil {
		return nil, nil, err
	}
	k, err := readKernelBTF()
	if err != nil || k == nil {
		return nil, nil, fmt.Errorf("kernel BTF: %v", err)
	}
	l := newLoader(64 << 10)
	var out []kfuncCapture
	for _, c := range kfuncCaptureCases {
		v := captureVariant(p, c.selector)
		switch {
		case v.info.Usable && c.refusedVariant:
			logf("left out %s: the kernel loads %s programs", c.kind, c.selector)
			continue
		case !v.info.Usable && !c.refusedVariant:
			logf("left out %s: the kernel refuses %s programs: %s", c.kind, c.selector, v.info.Reason)
			continue
		}
		prog := v.prog
		if !v.info.Usable && v.spec.target == targetFunc {
			id, _, _ := typeID[*btf.Func](k, v.spec.candidates[0]) // keep the refusal on file
			prog.attachBTFID = uint32(id)
		}
		types, err := k.spec.AnyTypesByName(c.kfunc)
		if err != nil {
			logf("left out %s: the kernel has no %s", c.kind, c.kfunc)
			continue
		}
		id, err := k.spec.TypeID(types[0])
		if err != nil {
			return nil, nil, err
		}
		insns, err := bpfasm.Marshal(bpfasm.KfuncProbeProgram(uint32(id), v.spec.ret))
		if err != nil {
			return nil, nil, err
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
		outcome, detail, flags := ClassifyKfunc(res.errno, res.log)
		out = append(out, kfuncCapture{
			file: "kfunc-" + c.kind + ".log",
			text: header + res.log,
			result: observation.Result{Kfunc: c.kfunc, ProgType: v.spec.progType, Variant: v.spec.name,
				Outcome: outcome, Detail: detail, Flags: strings.Join(flags, ",")},
		})
	}
	return p, out, nil
}

// captureVariant returns p's variant of selector, a program type with one variant or
// "type/variant".
func captureVariant(p *Prober, selector string) *variant {
	typ, name, hasName := strings.Cut(selector, "/")
	for _, v := range p.variants {
		if v.spec.progType == typ && (!hasName || v.spec.name == name) {
			return v
		}
	}
	panic("no variant for capture selector " + selector)
}

// TestCaptureKfuncLogs writes the golden logs of kfuncCaptureCases from the running kernel into
// testdata/verifier-logs/host-<series>/kfunc-<kind>.log (see captureKfuncLogs for the cases
// left out). It runs only when BPFMATRIX_CAPTURE_LOGS is set:
//
//	BPFMATRIX_CAPTURE_LOGS=1 go test ./probe -run TestCaptureKfuncLogs
//
// The guests' files come from the same loads, in each kernel of kernels.yaml
// (TestCaptureGuestKfuncLogs in package harness).
func TestCaptureKfuncLogs(t *testing.T) {
	testenv.NeedCaptureLogs(t, "testdata/verifier-logs/host-*/kfunc-*")
	requireRoot(t)
	p, captures, err := captureKfuncLogs(testRegistry(t), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	dir := captureDir(p.facts.Kernel.Release)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range captures {
		testenv.WriteFile(t, filepath.Join(dir, c.file), []byte(c.text))
		t.Logf("%s: %s (%s) %s", c.file, c.result.Outcome, c.result.Detail, c.result.Flags)
	}
}

// CaptureKfuncLogsInGuest is what this test binary does as the init of a bpfmatrix guest (see
// kfunc_guest_test.go, where package probe_test hands it to the guest side of the harness): it
// sends the kernel's facts as the header, then one result per golden log of
// captureKfuncLogs, for TestCaptureGuestKfuncLogs to write. Such a result is an envelope,
// not an observation: Detail holds the file's name and Log the file; Kfunc, ProgType, Variant,
// Outcome and Flags are the load's, for progress lines.
func CaptureKfuncLogsInGuest(header, result func(any) error) error {
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "capture: "+format+"\n", args...) }
	p, captures, err := captureKfuncLogs(nil, logf)
	if err != nil {
		return err
	}
	if err := header(p.Facts()); err != nil {
		return err
	}
	for _, c := range captures {
		r := c.result
		r.Detail, r.Log = c.file, c.text
		if err := result(r); err != nil {
			return err
		}
	}
	return nil
}
