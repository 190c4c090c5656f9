package probe

import (
	"slices"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// btfObjectTestKernel is a kernel BTF with some of btfObjectSources' targets: xdp_do_redirect
// and kfree_skb as 5.10..7.3 have them, bpf_lsm_file_open with a struct file whose f_inode sits
// at offset 32, tcp_congestion_ops, and a vfs_truncate whose first parameter is no longer a
// path.
func btfObjectTestKernel(t *testing.T) *kernelBTF {
	t.Helper()
	ptr := func(name string) *btf.Pointer { return &btf.Pointer{Target: &btf.Struct{Name: name}} }
	inode := &btf.Struct{Name: "inode"}
	file := &btf.Struct{Name: "file", Size: 40, Members: []btf.Member{
		{Name: "f_mode", Type: &btf.Int{Name: "unsigned int", Size: 4}},
		{Name: "f_inode", Type: &btf.Pointer{Target: inode}, Offset: 32 * 8},
	}}
	proto := func(params ...btf.FuncParam) *btf.FuncProto {
		return &btf.FuncProto{Return: &btf.Int{Name: "int", Size: 4}, Params: params}
	}
	types := []btf.Type{
		&btf.Func{Name: "xdp_do_redirect", Type: proto(
			btf.FuncParam{Name: "dev", Type: ptr("net_device")},
			btf.FuncParam{Name: "xdp", Type: ptr("xdp_buff")},
			btf.FuncParam{Name: "xdp_prog", Type: ptr("bpf_prog")})},
		&btf.Typedef{Name: "btf_trace_kfree_skb", Type: &btf.Pointer{Target: proto(
			btf.FuncParam{Type: &btf.Pointer{Target: &btf.Void{}}},
			btf.FuncParam{Type: &btf.Const{Type: ptr("sk_buff")}})}},
		&btf.Func{Name: "bpf_lsm_file_open", Type: proto(btf.FuncParam{Name: "file", Type: &btf.Pointer{Target: file}})},
		&btf.Struct{Name: "tcp_congestion_ops", Size: 8, Members: []btf.Member{
			{Name: "cong_avoid", Type: &btf.Pointer{Target: proto(btf.FuncParam{Name: "sk", Type: ptr("sock")})}},
		}},
		&btf.Func{Name: "vfs_truncate", Type: proto(btf.FuncParam{Name: "path", Type: &btf.Int{Name: "long", Size: 8}})},
	}
	b, err := btf.NewBuilder(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range types {
		if _, err := b.Add(typ); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := b.Spec()
	if err != nil {
		t.Fatal(err)
	}
	return &kernelBTF{spec: spec}
}

// TestResolveBTFObjects checks which sources a kernel's BTF bears out, and the context path
// each reads: the parameter's slot, then the member that leads to the struct wanted.
func TestResolveBTFObjects(t *testing.T) {
	k := btfObjectTestKernel(t)
	got := map[[3]string][]int16{}
	for _, o := range resolveBTFObjects(k) {
		if o.attachBTFID == 0 && o.src.target != "" {
			t.Errorf("%s from %s: no attach BTF id", o.src.want, o.src.target)
		}
		got[[3]string{o.src.want, o.src.variant, o.src.target}] = o.path
	}
	want := map[[3]string][]int16{
		{"xdp_buff", "fentry", "xdp_do_redirect"}:          {8},
		{"sk_buff", "tp_btf", "btf_trace_kfree_skb"}:       {0},
		{"file", "lsm.s", "bpf_lsm_file_open"}:             {0},
		{"file", "lsm", "bpf_lsm_file_open"}:               {0},
		{"inode", "lsm.s", "bpf_lsm_file_open"}:            {0, 32},
		{"inode", "lsm", "bpf_lsm_file_open"}:              {0, 32},
		{"tcp_sock", "tcp_ca", ""}:                         {0},
		{"tcp_sock", "tcp_ca.release", ""}:                 nil, // release is not a member here
		{"path", "fentry", "vfs_truncate"}:                 nil, // its parameter is no path here
		{"xdp_buff", "fentry", "bpf_prog_run_generic_xdp"}: nil, // absent
	}
	for key, path := range want {
		have, ok := got[key]
		switch {
		case path == nil && ok:
			t.Errorf("%v resolved to %v, want it left out", key, have)
		case path != nil && !slices.Equal(have, path):
			t.Errorf("%v resolved to %v (found %v), want %v", key, have, ok, path)
		}
	}
}
