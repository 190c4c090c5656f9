package probe

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ebpfasm "github.com/cilium/ebpf/asm"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
)

// argCaptureCase is one argument probe whose whole log becomes a golden file of the complaint
// parser: testdata/verifier-logs/host-<series>/arg-<kind>.log.
type argCaptureCase struct {
	kind     string // file name without arg- and .log
	selector string // variant, as in Options.ProgTypes
	id       int
	// args builds the argument values from the run's maps; nil means all zero.
	args func(m *argMaps, p *Prober) []bpfasm.ArgValue
	// insns, when set, builds the whole program instead (for refusals the argument probes
	// avoid).
	insns func(m *argMaps) ebpfasm.Instructions
}

func mapFD(m *argMaps, typ int) int {
	fd, err := m.fd(typ)
	if err != nil {
		panic(err)
	}
	return fd
}

var argCaptureCases = []argCaptureCase{
	{kind: "map-ptr", selector: "socket_filter", id: 1},
	{kind: "mem", selector: "socket_filter", id: 1, args: func(m *argMaps, _ *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgMapPtr(mapFD(m, mapHash))}
	}},
	{kind: "ctx", selector: "sched_cls", id: 9},
	{kind: "func", selector: "socket_filter", id: 181},
	{kind: "zero-size", selector: "socket_filter", id: 16, args: func(*argMaps, *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgStack()}
	}},
	{kind: "map-type", selector: "socket_filter", id: 130, args: func(m *argMaps, _ *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgMapPtr(mapFD(m, mapHash)), bpfasm.ArgStack(), bpfasm.ArgScalar(8)}
	}},
	{kind: "sock", selector: "sched_cls", id: 95},
	{kind: "btf-ptr", selector: "socket_filter", id: 141},
	{kind: "btf-type", selector: "tracing/iter", id: 147, args: func(*argMaps, *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgHelperResult(helperGetCurrentTaskBTF)}
	}},
	{kind: "btf-field", selector: "socket_filter", id: 169, args: func(m *argMaps, _ *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgMapValue(mapFD(m, mapConstString), 0)}
	}},
	{kind: "const-str", selector: "socket_filter", id: 182, args: func(*argMaps, *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgStack(), bpfasm.ArgScalar(8), bpfasm.ArgStack()}
	}},
	{kind: "must-be-referenced", selector: "sched_cls", id: 86, args: func(*argMaps, *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgContextField(skbSkOffset)}
	}},
	{kind: "dynptr-uninit", selector: "socket_filter", id: 203, args: func(*argMaps, *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgStack()}
	}},
	{kind: "dynptr-unacquired", selector: "socket_filter", id: 199, args: func(*argMaps, *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgStack()}
	}},
	{kind: "dynptr-data", selector: "socket_filter", id: 197, args: func(*argMaps, *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgStack(), bpfasm.ArgScalar(8), bpfasm.ArgScalar(0), bpfasm.ArgStack()}
	}},
	{kind: "null-probe", selector: "sched_cls", id: 28, args: func(m *argMaps, _ *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgMapPtr(mapFD(m, mapHash))}
	}},
	{kind: "size-of-map-ptr", selector: "kprobe", id: 67, args: func(m *argMaps, _ *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgContext(), bpfasm.ArgStack(), bpfasm.ArgMapPtr(mapFD(m, mapHash))}
	}},
	{kind: "unreleased-reference", selector: "sched_cls", id: 84, args: func(*argMaps, *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgContext(), bpfasm.ArgStack(), bpfasm.ArgScalar(12)}
	}},
	{kind: "loaded", selector: "socket_filter", id: 1, args: func(m *argMaps, _ *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgMapPtr(mapFD(m, mapHash)), bpfasm.ArgStack()}
	}},
	// The host's kernel is built without CONFIG_KALLSYMS_ALL: per-CPU variables have no
	// address, and the load fails before any instruction is walked.
	{kind: "ksym-refused", selector: "socket_filter", id: 154, args: func(_ *argMaps, p *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgKernelVar(p.argFacts.percpuVar)}
	}},
	// bpf_skc_to_tcp_sock(skb->sk) may be NULL; passing it on unchecked is refused by type.
	{kind: "maybe-null-type", selector: "sched_cls", id: 136, insns: func(*argMaps) ebpfasm.Instructions {
		return ebpfasm.Instructions{
			ebpfasm.LoadMem(ebpfasm.R1, ebpfasm.R1, skbSkOffset, ebpfasm.DWord),
			ebpfasm.JEq.Imm(ebpfasm.R1, 0, "out"),
			ebpfasm.BuiltinFunc(137).Call(), // bpf_skc_to_tcp_sock
			ebpfasm.Mov.Reg(ebpfasm.R1, ebpfasm.R0),
			ebpfasm.BuiltinFunc(136).Call(), // bpf_skc_to_tcp6_sock
			ebpfasm.Mov.Imm(ebpfasm.R0, 0).WithSymbol("out"),
			ebpfasm.Return(),
		}
	}},
	// bpf_kptr_xchg returns the task it took out of the map, or NULL: bpf_task_pt_regs
	// refuses it by type ("ptr_or_null_"), ...
	{kind: "maybe-null-btf", selector: "socket_filter", id: 175, insns: func(m *argMaps) ebpfasm.Instructions {
		return ebpfasm.Instructions{
			ebpfasm.LoadMapValue(ebpfasm.R1, mapFD(m, mapKptr), 0),
			ebpfasm.Mov.Imm(ebpfasm.R2, 0),
			ebpfasm.BuiltinFunc(194).Call(), // bpf_kptr_xchg
			ebpfasm.Mov.Reg(ebpfasm.R1, ebpfasm.R0),
			ebpfasm.BuiltinFunc(175).Call(), // bpf_task_pt_regs
			ebpfasm.Mov.Imm(ebpfasm.R0, 0),
			ebpfasm.Return(),
		}
	}},
	// ... and bpf_kptr_xchg, which releases its second argument, as "Possibly NULL".
	{kind: "possibly-null", selector: "socket_filter", id: 194, insns: func(m *argMaps) ebpfasm.Instructions {
		return ebpfasm.Instructions{
			ebpfasm.LoadMapValue(ebpfasm.R1, mapFD(m, mapKptr), 0),
			ebpfasm.Mov.Imm(ebpfasm.R2, 0),
			ebpfasm.BuiltinFunc(194).Call(), // bpf_kptr_xchg
			ebpfasm.Mov.Reg(ebpfasm.R2, ebpfasm.R0),
			ebpfasm.LoadMapValue(ebpfasm.R1, mapFD(m, mapKptr), 0),
			ebpfasm.BuiltinFunc(194).Call(), // bpf_kptr_xchg
			ebpfasm.Mov.Imm(ebpfasm.R0, 0),
			ebpfasm.Return(),
		}
	}},
}

// TestCaptureHostArgLogs writes the golden logs of argCaptureCases from the running kernel into
// testdata/verifier-logs/host-<series>/arg-*.log. It runs only when BPFMATRIX_CAPTURE_LOGS is
// set:
//
//	BPFMATRIX_CAPTURE_LOGS=1 go test ./probe -run TestCaptureHostArgLogs
//
// Each file starts with the header of the other golden logs and a second line naming the
// arguments given.
func TestCaptureHostArgLogs(t *testing.T) {
	if os.Getenv("BPFMATRIX_CAPTURE_LOGS") == "" {
		t.Skip("set BPFMATRIX_CAPTURE_LOGS=1 to rewrite testdata/verifier-logs/host-*/arg-*.log")
	}
	requireRoot(t)
	reg := testRegistry(t)
	maps := newArgMaps()
	defer maps.Close()
	l := newLoader(64 << 10)
	for _, c := range argCaptureCases {
		p, err := New(reg, Options{ProgTypes: []string{c.selector}, Helpers: []int{c.id}})
		if err != nil {
			t.Fatal(err)
		}
		v := p.variants[0]
		if !v.info.Usable {
			t.Fatalf("%s: %s is not usable here: %s", c.kind, c.selector, v.info.Reason)
		}
		a := &argWalk{p: p, l: l, maps: maps, id: c.id, v: v}
		var res loadResult
		given := "all zero"
		if c.insns != nil {
			b, err := bpfasm.Marshal(c.insns(maps))
			if err != nil {
				t.Fatal(err)
			}
			res = l.load(&v.prog, b, true)
			given = "hand-written program"
		} else {
			var names []string
			if c.args != nil {
				for i, arg := range c.args(maps, p) {
					a.slots[i].value = arg
					names = append(names, arg.String())
				}
				given = strings.Join(names, ", ")
			}
			if res, _, err = a.load(); err != nil {
				t.Fatal(err)
			}
		}
		variant := v.spec.progType
		if v.spec.name != v.spec.progType {
			variant += "/" + v.spec.name
		}
		header := fmt.Sprintf("# kernel=%s errno=%d (%s) variant=%s id=%d license=GPL\n# args: %s\n",
			p.facts.Kernel.Release, int(res.errno), res.errno.Error(), variant, c.id, given)
		dir := captureDir(p.facts.Kernel.Release)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "arg-"+c.kind+".log"), []byte(header+res.log), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %+v", c.kind, parseComplaint(res.log))
	}
}
