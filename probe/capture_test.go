package probe

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
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
	if os.Getenv("BPFMATRIX_CAPTURE_LOGS") == "" {
		t.Skip("set BPFMATRIX_CAPTURE_LOGS=1 to rewrite testdata/verifier-logs/host-*")
	}
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
		if err := os.WriteFile(filepath.Join(dir, c.kind+".log"), []byte(header+res.log), 0o644); err != nil {
			t.Fatal(err)
		}
		outcome, detail := Classify(res.errno, res.log)
		t.Logf("%s: %s (%s)", c.kind, outcome, detail)
	}
}
