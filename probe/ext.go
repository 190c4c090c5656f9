package probe

import (
	"encoding/binary"
	"fmt"

	ebpfasm "github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
)

// extTarget is the program an ext (freplace) probe extends. Extension programs replace a global
// function of a loaded BPF program that carries BTF, so the probe loads one of its own: an XDP
// program whose only function is "int probe_target(struct xdp_md *ctx)", global, described by
// BTF func info. The single context argument matters: since 6.8 the verifier marks a main
// program's BTF "unreliable" unless its prototype takes exactly the program's context, and it
// refuses to let anything replace an unreliable function ("Cannot replace static functions").
// The ext probes reuse the same BTF object for their own (identical) function, which is what
// the kernel compares their prototype against.
type extTarget struct {
	handle   *btf.Handle
	progFD   int
	funcID   btf.TypeID
	funcInfo []byte
}

// extTargetType is the program type of the ext target; ext probes get its helper set.
const extTargetType = unix.BPF_PROG_TYPE_XDP

func newExtTarget(l *loader) (*extTarget, error) {
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	// The kernel recognises the context argument by the struct's name; the members mirror
	// the uapi struct xdp_md's first fields so the type is a plausible copy of it.
	xdpMD := &btf.Struct{Name: "xdp_md", Size: 20}
	for i, name := range []string{"data", "data_end", "data_meta", "ingress_ifindex", "rx_queue_index"} {
		xdpMD.Members = append(xdpMD.Members, btf.Member{Name: name, Type: u32, Offset: btf.Bits(32 * i)})
	}
	fn := &btf.Func{
		Name:    "probe_target",
		Linkage: btf.GlobalFunc,
		Type: &btf.FuncProto{
			Return: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed},
			Params: []btf.FuncParam{{Name: "ctx", Type: &btf.Pointer{Target: xdpMD}}},
		},
	}
	b, err := btf.NewBuilder(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("ext target: %w", err)
	}
	id, err := b.Add(fn)
	if err != nil {
		return nil, fmt.Errorf("ext target: %w", err)
	}
	h, err := btf.NewHandle(b)
	if err != nil {
		return nil, fmt.Errorf("ext target: load BTF: %w", err)
	}
	// struct bpf_func_info { __u32 insn_off; __u32 type_id; }
	info := make([]byte, 8)
	binary.NativeEndian.PutUint32(info[4:], uint32(id))
	// The target calls bpf_xdp_adjust_head(ctx, 0): since 6.13 an extension may call helpers
	// that change packet data only when the function it replaces does too, and the probes
	// must be free to call every helper.
	insns, err := bpfasm.Marshal(ebpfasm.Instructions{
		ebpfasm.Mov.Imm(ebpfasm.R2, 0),
		ebpfasm.FnXdpAdjustHead.Call(),
		ebpfasm.Mov.Imm(ebpfasm.R0, 0),
		ebpfasm.Return(),
	})
	if err != nil {
		h.Close()
		return nil, err
	}
	t := &extTarget{handle: h, funcID: id, funcInfo: info}
	fd, res := l.loadFD(&program{progType: extTargetType, btfFD: uint32(h.FD()), funcInfo: info}, insns, true, true)
	if fd < 0 {
		h.Close()
		_, detail := Classify(res.errno, res.log)
		return nil, fmt.Errorf("ext target: load XDP program with BTF: %s", detail)
	}
	t.progFD = fd
	return t, nil
}

// program returns the load parameters of an ext probe against t.
func (t *extTarget) program() program {
	return program{
		progType:     unix.BPF_PROG_TYPE_EXT,
		attachBTFID:  uint32(t.funcID),
		attachProgFD: uint32(t.progFD),
		btfFD:        uint32(t.handle.FD()),
		funcInfo:     t.funcInfo,
	}
}

// Close unloads the target program and its BTF.
func (t *extTarget) Close() error {
	if t == nil {
		return nil
	}
	err := unix.Close(t.progFD)
	if cerr := t.handle.Close(); err == nil {
		err = cerr
	}
	return err
}
