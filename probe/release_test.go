package probe

import (
	"errors"
	"slices"
	"testing"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// qdiscKernel is a small vmlinux BTF shaped as 6.17's around Qdisc_ops: the enqueue stub whose
// skb is __ref, a dequeue stub without a reference, and kfuncs taking an skb, some named for
// releasing, one whose second parameter no argument of enqueue can fill (bpf_qdisc_skb_drop's
// to_free list is a struct bpf_sk_buff_ptr, enqueue's a struct sk_buff **).
func qdiscKernel(t *testing.T) *kernelBTF {
	t.Helper()
	intT := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	skb := &btf.Struct{Name: "sk_buff"}
	skbPtr := &btf.Pointer{Target: skb}
	qdisc := &btf.Pointer{Target: &btf.Struct{Name: "Qdisc"}}
	toFree := &btf.Pointer{Target: &btf.Struct{Name: "bpf_sk_buff_ptr"}}
	task := &btf.Pointer{Target: &btf.Struct{Name: "task_struct"}}
	fn := func(name string, tagged bool, params ...btf.FuncParam) *btf.Func {
		f := &btf.Func{Name: name, Linkage: btf.GlobalFunc, Type: &btf.FuncProto{Return: intT, Params: params}}
		if tagged {
			f.Tags = []string{kfuncTag}
		}
		return f
	}
	p := func(name string, typ btf.Type) btf.FuncParam { return btf.FuncParam{Name: name, Type: typ} }
	types := []btf.Type{
		fn("Qdisc_ops__enqueue", false, p("skb__ref", skbPtr), p("sch", qdisc), p("to_free", &btf.Pointer{Target: skbPtr})),
		fn("Qdisc_ops__dequeue", false, p("sch", qdisc)),
		fn("Qdisc_ops__peek", false, p("skb__ref", intT)),
		fn("bpf_kfree_skb", true, p("skb", skbPtr)),
		fn("bpf_qdisc_skb_drop", true, p("skb", skbPtr), p("to_free_list", toFree)),
		fn("bpf_qdisc_drop_to", true, p("skb", &btf.Pointer{Target: &btf.Const{Type: skb}}), p("sch", qdisc)),
		fn("bpf_skb_get_hash", true, p("skb", skbPtr)),
		fn("bpf_task_release", true, p("p", task)),
		fn("kfree_skb_untagged", false, p("skb", skbPtr)),
	}
	return &kernelBTF{spec: testenv.BTFSpec(t, types...), raw: testenv.MarshalBTF(t, types...)}
}

// TestReleaseCandidates holds what the probe finds in BTF for a member with a referenced
// argument: which argument, and the kfuncs to try releasing it with, in order.
func TestReleaseCandidates(t *testing.T) {
	k := qdiscKernel(t)
	tests := []struct {
		member  string
		wantErr bool
		args    []refArg
		cands   [][]string // per argument, the candidates' descriptions
	}{
		{member: "enqueue", args: []refArg{{index: 0, name: "skb", st: "sk_buff"}},
			cands: [][]string{{"bpf_kfree_skb(skb)", "bpf_qdisc_drop_to(skb, sch)"}}},
		{member: "dequeue", wantErr: true}, // no __ref parameter
		{member: "peek", wantErr: true},    // __ref, but no struct pointer
		{member: "reset", wantErr: true},   // no stub
	}
	kfuncs, ids := k.vmlinuxKfuncs()
	if len(kfuncs) != 5 || len(ids) != 5 {
		t.Fatalf("%d tagged kfuncs (ids %v), want the 5 tagged ones", len(kfuncs), ids)
	}
	for _, tt := range tests {
		t.Run(tt.member, func(t *testing.T) {
			args, params, err := memberRefArgs(k, "Qdisc_ops", tt.member)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("args %+v, want an error", args)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(args, tt.args) {
				t.Fatalf("args %+v, want %+v", args, tt.args)
			}
			for i, a := range args {
				var got []string
				for _, c := range releaseCandidates(a, params, kfuncs, ids) {
					got = append(got, c.desc)
					id, _, _ := typeID[*btf.Func](k, c.desc[:len(c.desc)-len("(skb)")])
					if c.desc == "bpf_kfree_skb(skb)" && (c.call.Call.Constant != int64(id) || !slices.Equal(c.call.CtxArgs, []int16{0})) {
						t.Errorf("%s calls %d with context offsets %v, want id %d and offset 0", c.desc, c.call.Call.Constant, c.call.CtxArgs, id)
					}
					if c.desc == "bpf_qdisc_drop_to(skb, sch)" && !slices.Equal(c.call.CtxArgs, []int16{0, 8}) {
						t.Errorf("%s passes context offsets %v, want 0 and 8", c.desc, c.call.CtxArgs)
					}
				}
				if !slices.Equal(got, tt.cands[i]) {
					t.Errorf("argument %d: candidates %q, want %q", i, got, tt.cands[i])
				}
			}
		})
	}
}

// TestReleaseCombos checks the order and the bound of the ways to release several arguments.
func TestReleaseCombos(t *testing.T) {
	c := func(d string) releaseCandidate { return releaseCandidate{desc: d} }
	tests := []struct {
		name   string
		perArg [][]releaseCandidate
		n      int
		want   []string
	}{
		{"one argument", [][]releaseCandidate{{c("a"), c("b")}}, 4, []string{"a", "b"}},
		{"bounded", [][]releaseCandidate{{c("a"), c("b"), c("c")}}, 2, []string{"a", "b"}},
		{"two arguments, the first varying slowest", [][]releaseCandidate{{c("a"), c("b")}, {c("x"), c("y")}}, 3, []string{"a; x", "a; y", "b; x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, combo := range releaseCombos(tt.perArg, tt.n) {
				got = append(got, newReleaseEpilogue(combo).desc)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("combos %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLearnReleaseLeavesOtherRefusals checks that only a member's refusal for a reference it
// handed the program looks for an epilogue: any other refusal, or any other variant, is left
// as it is, without a load.
func TestLearnReleaseLeavesOtherRefusals(t *testing.T) {
	k := qdiscKernel(t)
	entry := loadResult{errno: 22, log: "Unreleased reference id=1 alloc_insn=0\n"}
	other := loadResult{errno: 22, log: "Unreleased reference id=2 alloc_insn=5\n"}
	tests := []struct {
		name    string
		spec    variantSpec
		refused loadResult
		wantWhy bool
	}{
		{"a reference acquired later", variantSpec{kind: "Qdisc_ops", member: "enqueue"}, other, false},
		{"a sentinel", variantSpec{kind: "Qdisc_ops", sentinel: true}, entry, false},
		{"not struct_ops", variantSpec{member: "enqueue"}, entry, false},
		{"a member without a stub", variantSpec{kind: "Qdisc_ops", member: "reset"}, entry, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLoader(defaultLogSize)
			v := &variant{spec: &tt.spec}
			rel, res, why := v.learnRelease(k, l, candidate{}, []byte{}, tt.refused)
			if rel != nil || res != tt.refused || (why != "") != tt.wantWhy || l.stats.loads != 0 {
				t.Fatalf("learnRelease = %v, %+v, %q after %d loads", rel, res, why, l.stats.loads)
			}
		})
	}
}

// TestReleaseEpilogueKeepsAnswers loads, on this host, every helper and kfunc probe program at a
// struct_ops member with and without an epilogue that passes the member's first argument from
// the context to a kfunc, and holds the answers to be the same: the epilogue follows the probed
// call and never changes what the verifier says about it. The host has no member that hands a
// program a reference (Qdisc_ops is not built in), so the epilogue's kfunc is tcp_reno_ssthresh
// at tcp_congestion_ops.cong_avoid: the same instructions as a release, and, when the probed
// kfunc is tcp_reno_ssthresh itself, the same kfunc called twice, the probed call with NULL.
func TestReleaseEpilogueKeepsAnswers(t *testing.T) {
	requireRoot(t)
	p, err := New(testRegistry(t), Options{ProgTypes: []string{"struct_ops/tcp_congestion_ops"}})
	if err != nil {
		t.Fatal(err)
	}
	var v *variant
	for _, c := range p.variants {
		if c.info.Usable && c.info.Target == "tcp_congestion_ops.cong_avoid" {
			v = c
		}
	}
	k, err := readKernelBTF()
	if err != nil {
		t.Fatal(err)
	}
	id, _, ok := btf.TypeID(0), (*btf.Func)(nil), false
	if k != nil {
		id, _, ok = typeID[*btf.Func](k, "tcp_reno_ssthresh")
	}
	if v == nil || len(p.kfunc.list) == 0 || !ok {
		err = errors.New("the kernel has no tcp_congestion_ops.cong_avoid variant, no kfuncs or no tcp_reno_ssthresh")
	}
	testenv.Optional(t, err, "a kernel with BTF, kfunc tags and TCP congestion control struct_ops, as Debian's from 6.12")
	epi := newReleaseEpilogue([]releaseCandidate{{desc: "tcp_reno_ssthresh(sk)",
		call: bpfasm.ReleaseCall{Call: bpfasm.KfuncCall(uint32(id)), CtxArgs: []int16{0}}}})
	with := &variant{spec: v.spec, prog: v.prog, info: v.info, release: epi}
	l := newLoader(defaultLogSize)
	trivial := testenv.Must(bpfasm.Marshal(bpfasm.TrivialProgramReturning(0)))(t)
	if res := l.load(&v.prog, with.program(trivial), true); res.errno != 0 {
		t.Fatalf("the trivial program with the epilogue is refused: %v\n%s", res.errno, res.log)
	}
	compared := 0
	for _, hid := range p.ids {
		b := testenv.Must(bpfasm.Marshal(bpfasm.ProbeProgramReturning(hid, 0)))(t)
		plain, _ := Classify(errnoOf(l.load(&v.prog, v.program(b), true)))
		wrapped, _ := Classify(errnoOf(l.load(&v.prog, with.program(b), true)))
		if plain != wrapped {
			t.Errorf("helper %d: %s without the epilogue, %s with it", hid, plain, wrapped)
		}
		compared++
	}
	for _, kf := range p.kfunc.list {
		b := testenv.Must(bpfasm.Marshal(bpfasm.KfuncProbeProgram(uint32(kf.id), 0)))(t)
		po, _, pf := ClassifyKfunc(errnoOf(l.load(&v.prog, b, true)))
		wo, _, wf := ClassifyKfunc(errnoOf(l.load(&v.prog, with.program(b), true)))
		if po != wo || !slices.Equal(pf, wf) {
			t.Errorf("kfunc %s: %s %v without the epilogue, %s %v with it", kf.name, po, pf, wo, wf)
		}
		compared++
	}
	t.Logf("%d helpers and kfuncs answered alike at %s with and without %s", compared, v.info.Target, epi.desc)
}

// errnoOf splits a load's result as Classify takes it.
func errnoOf(res loadResult) (unix.Errno, string) { return res.errno, res.log }
