package probe

import (
	"fmt"
	"slices"
	"sync"

	"github.com/cilium/ebpf/btf"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
)

// This file holds how the argument pass gives a BTF pointer to a kernel struct no helper returns
// (an sk_buff, a file, a path): a tracing, LSM or struct_ops program finds one among its attach
// target's arguments, which it reads from its context. The pass loads such a program with an
// attach target of its own choosing, one whose prototype has the struct.

// btfObjectSource is one place a program finds a pointer to a struct among its context's
// arguments.
type btfObjectSource struct {
	want    string // the struct the verifier asks for ("R1 is of type task_struct but want is expected")
	variant string // the name of the variant spec whose program type and attach type load it
	// target is the attach target: a Func for fentry and LSM variants, a Typedef
	// btf_trace_<tracepoint> for tp_btf; "" keeps the variant's own (struct_ops).
	target string
	param  int // the target's parameter that holds it, counted from 0: its context slot
	// paramStruct is the struct the parameter points to when that is not want: the kernel
	// turns it into want itself (tcp_congestion_ops' struct sock * reads as a tcp_sock), or
	// field leads from it to want.
	paramStruct string
	// field is a pointer member of paramStruct to load to reach want (struct file's f_inode).
	field string
}

// btfObjectSources are, per struct, the attach targets whose arguments give one, in order of
// preference: targets every kernel from 5.10 has, where the helpers that want the struct are
// offered (d_path only to targets on the kernel's d_path allow list, which vfs_truncate and
// vfs_getattr are on; ima_inode_hash only to sleepable LSM hooks, which file_open is).
var btfObjectSources = []btfObjectSource{
	// A task, where no helper returns one (bpf_get_current_task_btf is 5.11's): the task
	// iterator's own, and sched_switch's prev.
	{want: "task_struct", variant: "iter", target: "bpf_iter_task", param: 1},
	{want: "task_struct", variant: "tp_btf", target: "btf_trace_sched_switch", param: 1},
	{want: "sk_buff", variant: "tp_btf", target: "btf_trace_kfree_skb"},
	{want: "sk_buff", variant: "tp_btf", target: "btf_trace_consume_skb"},
	{want: "xdp_buff", variant: "fentry", target: "xdp_do_redirect", param: 1},
	{want: "xdp_buff", variant: "fentry", target: "bpf_prog_run_generic_xdp", param: 1},
	{want: "path", variant: "fentry", target: "vfs_truncate"},
	{want: "path", variant: "fentry", target: "vfs_getattr"},
	{want: "file", variant: "lsm.s", target: "bpf_lsm_file_open"},
	{want: "file", variant: "lsm", target: "bpf_lsm_file_open"},
	{want: "file", variant: "fentry", target: "vfs_read"},
	{want: "inode", variant: "lsm.s", target: "bpf_lsm_file_open", paramStruct: "file", field: "f_inode"},
	{want: "inode", variant: "lsm", target: "bpf_lsm_file_open", paramStruct: "file", field: "f_inode"},
	{want: "inode", variant: "lsm", target: "bpf_lsm_inode_permission"},
	{want: "linux_binprm", variant: "lsm", target: "bpf_lsm_bprm_check_security"},
	{want: "linux_binprm", variant: "lsm.s", target: "bpf_lsm_bprm_committed_creds"},
	// bpf_tcp_ca_is_valid_access promotes the struct sock * of a tcp_congestion_ops member to a
	// tcp_sock (since 5.6): the verifier then wants nothing else of bpf_tcp_send_ack.
	{want: "tcp_sock", variant: "tcp_ca", param: 0, paramStruct: "sock"},
	{want: "tcp_sock", variant: "tcp_ca.release", param: 0, paramStruct: "sock"},
}

// btfObject is a source resolved against the running kernel's BTF.
type btfObject struct {
	src *btfObjectSource
	// attachBTFID is the target's BTF id, 0 to keep the variant's own target.
	attachBTFID uint32
	// path are the context offsets to load, in turn, to reach the pointer
	// (asm.ArgContextField).
	path []int16
}

// resolveBTFObjects returns the sources whose target the kernel's BTF has with the prototype the
// source expects; a target whose parameter changed type is left out rather than trusted.
func resolveBTFObjects(k *kernelBTF) []btfObject {
	var out []btfObject
	for i := range btfObjectSources {
		src := &btfObjectSources[i]
		if o, ok := resolveBTFObject(k, src); ok {
			out = append(out, o)
		}
	}
	return out
}

func resolveBTFObject(k *kernelBTF, src *btfObjectSource) (btfObject, bool) {
	o := btfObject{src: src}
	spec, ok := specNamed(src.variant)
	if !ok {
		return o, false
	}
	var params []btf.FuncParam
	switch spec.target {
	case targetFunc:
		id, fn, ok := typeID[*btf.Func](k, src.target)
		if !ok {
			return o, false
		}
		o.attachBTFID = uint32(id)
		params = funcParams(fn.Type)
	case targetTP:
		id, td, ok := typeID[*btf.Typedef](k, src.target)
		if !ok {
			return o, false
		}
		o.attachBTFID = uint32(id)
		// A raw tracepoint's prototype starts with the tracepoint's own void *data, which
		// the program's context leaves out.
		if params = funcParams(td.Type); len(params) > 0 {
			params = params[1:]
		}
	case targetMember:
		_, st, ok := typeID[*btf.Struct](k, spec.candidates[0])
		if !ok {
			return o, false
		}
		j := slices.IndexFunc(st.Members, func(m btf.Member) bool { return m.Name == spec.member })
		if j < 0 {
			return o, false
		}
		params = funcParams(st.Members[j].Type)
	default:
		return o, false
	}
	holder := src.want
	if src.paramStruct != "" {
		holder = src.paramStruct
	}
	if src.param >= len(params) || structPointee(params[src.param].Type) == nil || structPointee(params[src.param].Type).Name != holder {
		return o, false
	}
	o.path = []int16{int16(8 * src.param)}
	if src.field != "" {
		off, ok := pointerField(structPointee(params[src.param].Type), src.field, src.want)
		if !ok {
			return o, false
		}
		o.path = append(o.path, off)
	}
	return o, true
}

// funcParams returns the parameters of a function prototype, reached through pointers and
// typedefs (a tracepoint's btf_trace_<name>, a struct_ops member).
func funcParams(t btf.Type) []btf.FuncParam {
	for {
		switch x := t.(type) {
		case *btf.FuncProto:
			return x.Params
		case *btf.Pointer:
			t = x.Target
		case *btf.Typedef:
			t = x.Type
		default:
			return nil
		}
	}
}

// structPointee returns the struct a pointer type points to, past qualifiers and typedefs; nil
// when t is not a pointer to a struct.
func structPointee(t btf.Type) *btf.Struct {
	p, ok := btf.UnderlyingType(t).(*btf.Pointer)
	if !ok {
		return nil
	}
	st, _ := btf.UnderlyingType(p.Target).(*btf.Struct)
	return st
}

// pointerField returns the byte offset of st's member name when it is a pointer to the struct
// want.
func pointerField(st *btf.Struct, name, want string) (int16, bool) {
	for _, m := range st.Members {
		if m.Name != name {
			continue
		}
		if p := structPointee(m.Type); p == nil || p.Name != want || m.Offset%8 != 0 {
			return 0, false
		}
		return int16(m.Offset / 8), true
	}
	return 0, false
}

// argVariants are the variants the argument pass loads with attach targets of its own, made
// once per run and shared by the walkers. It is safe for concurrent use.
type argVariants struct {
	mu sync.Mutex
	// made holds each variant made, nil when the kernel refused its trivial program.
	made map[string]*variant
}

func newArgVariants() *argVariants { return &argVariants{made: map[string]*variant{}} }

// retarget returns base aimed at o's attach target, or nil when the kernel refuses a trivial
// program there (a target the kernel cannot attach to). It loads that program once per target
// and run, with l.
func (m *argVariants) retarget(l *loader, base *variant, o btfObject) *variant {
	if o.attachBTFID == 0 || o.attachBTFID == base.prog.attachBTFID {
		return base
	}
	key := fmt.Sprint(base.spec.name, "/", o.attachBTFID)
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.made[key]; ok {
		return v
	}
	v := &variant{spec: base.spec, prog: base.prog, info: base.info, gplRequired: base.gplRequired}
	v.prog.attachBTFID = o.attachBTFID
	v.info.Target = o.src.target
	trivial, err := bpfasm.Marshal(bpfasm.TrivialProgramReturning(base.spec.ret))
	if err != nil || l.load(&v.prog, trivial, true).errno != 0 {
		v = nil
	}
	m.made[key] = v
	return v
}

// giveBTFObject puts in s a pointer to a struct want, read from the context of a variant whose
// attach target has one; the walk moves to that variant. Sources of the variants that offer the
// helper come first. With others set, the sources of other structs follow: where the verifier
// names no struct ("R1 type=inv expected=ptr_", before 5.11), a pointer to any struct gets it
// to name the one it wants, and the current variant's own come first, since they keep the
// helper offered. It reports false when no source is left.
func (a *argWalk) giveBTFObject(s *argSlot, want string, others bool) bool {
	if !s.switched {
		s.home = a.v.spec.name
	}
	s.objWant, s.objOthers = want, others
	rank := func(o btfObject) int {
		r := 0
		switch {
		case others && o.src.variant == s.home:
		case o.src.want == want:
			r = 2
		default:
			r = 4
		}
		return r + boolInt(!a.offersIn(o.src.variant))
	}
	var usable []btfObject
	for _, o := range a.p.argFacts.btfObjects {
		if (o.src.want == want || others) && !s.tried["ctx_arg:"+o.src.variant+":"+o.src.target] {
			usable = append(usable, o)
		}
	}
	slices.SortStableFunc(usable, func(x, y btfObject) int { return rank(x) - rank(y) })
	for _, o := range usable {
		s.tried["ctx_arg:"+o.src.variant+":"+o.src.target] = true
		base := a.p.usableVariant(o.src.variant)
		if base == nil {
			continue
		}
		v := a.vars.retarget(a.l, base, o)
		if v == nil {
			continue
		}
		a.v = v
		s.value = bpfasm.ArgContextField(o.path...)
		s.given, s.mapType, s.mapValueType = "ctx_arg", 0, 0
		s.switched = true
		return true
	}
	return false
}

// retryElsewhere gives register reg its value's next source when giving it moved the walk to a
// variant that then refused the helper itself ("helper call is not allowed in probe"); it
// reports false when the value did not come from a context, or no source is left.
func (a *argWalk) retryElsewhere(reg int) bool {
	s := &a.slots[reg-1]
	return s.switched && a.giveBTFObject(s, s.objWant, s.objOthers)
}

// offersIn reports whether the variant named name is among those that offer the helper.
func (a *argWalk) offersIn(name string) bool {
	return slices.ContainsFunc(a.cands, func(v *variant) bool { return v.spec.name == name })
}

// usableVariant returns the usable variant of the run called name, nil when there is none.
func (p *Prober) usableVariant(name string) *variant {
	for _, v := range p.variants {
		if v.spec.name == name && v.info.Usable {
			return v
		}
	}
	return nil
}
