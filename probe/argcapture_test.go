package probe

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ebpfasm "github.com/cilium/ebpf/asm"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
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
	// unset are registers left without a value (probeUntouched's loads).
	unset []int
	// object, when set, aims the variant at the attach target of the btfObjectSource of that
	// want and gives r1 the pointer it reads from the context (giveBTFObject's loads).
	object string
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
	// The same in a kprobe, which every kernel offers bpf_get_current_comm: 5.10 and 6.1 name
	// no register.
	{kind: "zero-size-kprobe", selector: "kprobe", id: 16, args: func(*argMaps, *Prober) []bpfasm.ArgValue {
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
	// A register the helper reads, left without a value.
	{kind: "unset-arg", selector: "socket_filter", id: 12, unset: []int{3}, args: func(m *argMaps, _ *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgContext(), bpfasm.ArgMapPtr(mapFD(m, mapProgArray))}
	}},
	// A map pointer where the verifier checks a number's value after the arguments.
	{kind: "flags-value", selector: "cgroup_skb/ingress", id: 81, args: func(m *argMaps, _ *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgMapPtr(mapFD(m, mapCgroupStorage)), bpfasm.ArgMapPtr(mapFD(m, mapHash))}
	}},
	// A dynptr of memory where a ring buffer's is wanted.
	{kind: "dynptr-ringbuf", selector: "socket_filter", id: 199, args: func(m *argMaps, _ *Prober) []bpfasm.ArgValue {
		return []bpfasm.ArgValue{bpfasm.ArgDynptr(helperDynptrFromMem, bpfasm.ArgMapValue(mapFD(m, mapArray), 0), bpfasm.ArgScalar(8), bpfasm.ArgScalar(0))}
	}},
	// BTF pointers read from the context of a program aimed at a target that has one: the
	// verifier takes them and goes on to the next argument.
	{kind: "ctx-arg-skb", selector: "tracing/tp_btf", id: 111, object: "sk_buff"},
	{kind: "ctx-arg-path", selector: "tracing/fentry", id: 147, object: "path"},
	{kind: "ctx-arg-inode", selector: "lsm/lsm.s", id: 161, object: "inode"},
	{kind: "ctx-arg-tcp-sock", selector: "struct_ops/tcp_ca", id: 116, object: "tcp_sock"},
	{kind: "ctx-arg-task", selector: "tracing/iter", id: 141, object: "task_struct"},
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
		return append(kptrTaken(m),
			ebpfasm.Mov.Reg(ebpfasm.R1, ebpfasm.R0),
			ebpfasm.BuiltinFunc(175).Call(), // bpf_task_pt_regs
			ebpfasm.Mov.Imm(ebpfasm.R0, 0),
			ebpfasm.Return(),
		)
	}},
	// ... and bpf_kptr_xchg, which releases its second argument, as "Possibly NULL".
	{kind: "possibly-null", selector: "socket_filter", id: 194, insns: func(m *argMaps) ebpfasm.Instructions {
		return append(kptrTaken(m),
			ebpfasm.Mov.Reg(ebpfasm.R2, ebpfasm.R0),
			ebpfasm.LoadMapValue(ebpfasm.R1, mapFD(m, mapKptr), 0),
			ebpfasm.BuiltinFunc(194).Call(), // bpf_kptr_xchg
			ebpfasm.Mov.Imm(ebpfasm.R0, 0),
			ebpfasm.Return(),
		)
	}},
}

// kptrTaken takes the task out of the kptr map: R0 = bpf_kptr_xchg(&value, NULL), a task or
// NULL, which the two cases after it pass on unchecked.
func kptrTaken(m *argMaps) ebpfasm.Instructions {
	return ebpfasm.Instructions{
		ebpfasm.LoadMapValue(ebpfasm.R1, mapFD(m, mapKptr), 0),
		ebpfasm.Mov.Imm(ebpfasm.R2, 0),
		ebpfasm.BuiltinFunc(194).Call(), // bpf_kptr_xchg
	}
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
	testenv.NeedCaptureLogs(t, "testdata/verifier-logs/host-*/arg-*.log")
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
			// Kernels refuse some types outright (trampolines under lockdown, LSM
			// without CONFIG_BPF_LSM): nothing to keep from them.
			t.Logf("%s: %s is not usable here: %s", c.kind, c.selector, v.info.Reason)
			continue
		}
		a := &argWalk{p: p, l: l, maps: maps, vars: newArgVariants(), id: c.id, v: v}
		var res loadResult
		given := "all zero"
		if c.object != "" {
			if !captureObject(a, c.object) {
				t.Logf("%s: no source of a %s for %s here", c.kind, c.object, c.selector)
				continue
			}
			given = a.slots[0].value.String() + " in " + a.variantName()
		}
		for _, r := range c.unset {
			a.slots[r-1].unset = true
		}
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
			if res, _, _, err = a.load(); err != nil {
				t.Fatal(err)
			}
			for _, r := range c.unset {
				given += fmt.Sprintf(", r%d unset", r)
			}
		}
		switch outcome, detail := Classify(res.errno, res.log); outcome {
		case observation.UnknownID, observation.NotForType, observation.NotForTarget, observation.SleepableOnly:
			// The kernel lacks the helper, or does not offer it here: the log says nothing
			// about arguments.
			t.Logf("%s: not kept: %s: %s", c.kind, outcome, detail)
			continue
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
		testenv.WriteFile(t, filepath.Join(dir, "arg-"+c.kind+".log"), []byte(header+res.log))
		t.Logf("%s: %+v", c.kind, verifierlog.ParseComplaint(res.log))
	}
}

// captureObject aims a's variant at the attach target of the first source of a want it has,
// and puts the pointer that source reads from the context in r1; it reports false when the
// kernel has no such source for the variant.
func captureObject(a *argWalk, want string) bool {
	for _, o := range a.p.argFacts.btfObjects {
		if o.src.want != want || o.src.variant != a.v.spec.name {
			continue
		}
		if v := a.vars.retarget(a.l, a.v, o); v != nil {
			a.v = v
			a.slots[0].value = bpfasm.ArgContextField(o.path...)
			return true
		}
	}
	return false
}
