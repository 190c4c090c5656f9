package kernelbtf

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

var (
	u32    = &btf.Int{Name: "u32", Size: 4}
	u64    = &btf.Int{Name: "u64", Size: 8}
	common = &btf.Struct{Name: "bpf_struct_ops_common_value", Size: 8, Members: []btf.Member{{Name: "refcnt", Type: u32}, {Name: "state", Type: u32, Offset: 32}}}
)

// fnPtr is a pointer to a function of n u64 parameters.
func fnPtr(n int) btf.Type {
	p := &btf.FuncProto{Return: u32}
	for i := 0; i < n; i++ {
		p.Params = append(p.Params, btf.FuncParam{Name: "a", Type: u64})
	}
	return &btf.Pointer{Target: p}
}

// kindStruct declares struct name with the given members, each placed 8 bytes after the last.
func kindStruct(name string, members ...btf.Member) *btf.Struct {
	for i := range members {
		members[i].Offset = btf.Bits(64 * i)
	}
	return &btf.Struct{Name: name, Size: uint32(8 * len(members)), Members: members}
}

// wrapper declares the kernel's bpf_struct_ops_<name> around kind, as 6.9+ does (common part,
// then data); old uses 5.10's layout (refcnt, state, data).
func wrapper(name string, kind btf.Type, old bool) *btf.Struct {
	ms := []btf.Member{{Name: "common", Type: common}, {Name: "data", Type: kind, Offset: 64}}
	if old {
		ms = []btf.Member{{Name: "refcnt", Type: u32}, {Name: "state", Type: u32, Offset: 32}, {Name: "data", Type: kind, Offset: 64}}
	}
	return &btf.Struct{Name: "bpf_struct_ops_" + name, Size: 128, Members: ms}
}

func TestStructOpsKinds(t *testing.T) {
	cb := &btf.Typedef{Name: "enqueue_fn", Type: fnPtr(2)}
	sched := kindStruct("sched_ext_ops",
		btf.Member{Name: "select_cpu", Type: fnPtr(3)},
		btf.Member{Name: "enqueue", Type: cb},
		btf.Member{Name: "flags", Type: u64},
		btf.Member{Name: "init", Type: &btf.Const{Type: fnPtr(0)}},
	)
	tcp := kindStruct("tcp_congestion_ops", btf.Member{Name: "cong_avoid", Type: fnPtr(3)}, btf.Member{Name: "release", Type: fnPtr(1)})
	other := kindStruct("other_ops", btf.Member{Name: "f", Type: fnPtr(1)})
	tests := []struct {
		name  string
		types []btf.Type
		want  []StructOpsKind
	}{
		{"none", []btf.Type{sched, tcp}, nil},
		{"6.9+ layout, typedef and const members", []btf.Type{wrapper("sched_ext_ops", sched, false)}, []StructOpsKind{{Name: "sched_ext_ops", Members: []OpsMember{
			{Name: "select_cpu", Index: 0, Arity: 3}, {Name: "enqueue", Index: 1, Arity: 2}, {Name: "init", Index: 3, Arity: 0},
		}}}},
		{"5.10 layout, sorted", []btf.Type{wrapper("tcp_congestion_ops", tcp, true), wrapper("sched_ext_ops", sched, true)}, []StructOpsKind{
			{Name: "sched_ext_ops", Members: []OpsMember{{Name: "select_cpu", Arity: 3}, {Name: "enqueue", Index: 1, Arity: 2}, {Name: "init", Index: 3}}},
			{Name: "tcp_congestion_ops", Members: []OpsMember{{Name: "cong_avoid", Arity: 3}, {Name: "release", Index: 1, Arity: 1}}},
		}},
		{"bookkeeping structs are no kinds", []btf.Type{
			common,
			&btf.Struct{Name: "bpf_struct_ops_value", Size: 16, Members: []btf.Member{{Name: "common", Type: common}, {Name: "data", Type: &btf.Array{Type: u64, Index: u32, Nelems: 1}, Offset: 64}}},
			&btf.Struct{Name: "bpf_struct_ops_map", Size: 8, Members: []btf.Member{{Name: "st_ops", Type: &btf.Pointer{Target: tcp}}}},
		}, nil},
		{"data of another struct", []btf.Type{wrapper("tcp_congestion_ops", other, false)}, nil},
		{"data through a typedef", []btf.Type{wrapper("other_ops", &btf.Typedef{Name: "other_t", Type: other}, false)}, []StructOpsKind{{Name: "other_ops", Members: []OpsMember{{Name: "f", Arity: 1}}}}},
		{"a union, not a struct", []btf.Type{&btf.Union{Name: "bpf_struct_ops_other_ops", Size: 8, Members: []btf.Member{{Name: "data", Type: other}}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := testenv.MarshalBTF(t, tt.types...)
			spec := testenv.BTFSpec(t, tt.types...)
			got, err := StructOpsKinds(spec, "")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			fast, err := VmlinuxStructOpsKinds(spec, raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fast, got) {
				t.Errorf("from the string table: %+v\nfrom every type:      %+v", fast, got)
			}
		})
	}
}

func TestMember(t *testing.T) {
	k := StructOpsKind{Name: "k", Members: []OpsMember{{Name: "a", Index: 2, Arity: 1}}}
	if m, ok := k.Member("a"); !ok || m.Index != 2 {
		t.Errorf("Member(a) = %+v, %v", m, ok)
	}
	if _, ok := k.Member("b"); ok {
		t.Error("Member(b) found")
	}
}

func TestAllStructOpsKinds(t *testing.T) {
	tcp := kindStruct("tcp_congestion_ops", btf.Member{Name: "cong_avoid", Type: fnPtr(3)})
	hid := kindStruct("hid_bpf_ops", btf.Member{Name: "hid_device_event", Type: fnPtr(3)})
	vmlinux := testenv.BTFSpec(t, wrapper("tcp_congestion_ops", tcp, false))
	got, err := AllStructOpsKinds(vmlinux, nil, map[string]*btf.Spec{"hid": testenv.BTFSpec(t, wrapper("hid_bpf_ops", hid, false))})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "tcp_congestion_ops" || got[0].Module != "" || got[1].Name != "hid_bpf_ops" || got[1].Module != "hid" {
		t.Errorf("got %+v", got)
	}
	_, err = AllStructOpsKinds(vmlinux, nil, map[string]*btf.Spec{"dup": testenv.BTFSpec(t, wrapper("tcp_congestion_ops", tcp, false))})
	if err == nil || !strings.Contains(err.Error(), "declared by both vmlinux and module dup") {
		t.Errorf("a kind declared twice: %v", err)
	}
	if _, err := AllStructOpsKinds(vmlinux, nil, map[string]*btf.Spec{"": vmlinux}); err == nil {
		t.Error("a module without a name was accepted")
	}
}

func TestAttachTypes(t *testing.T) {
	enum := func(vals ...btf.EnumValue) *btf.Enum {
		return &btf.Enum{Name: "bpf_attach_type", Size: 4, Values: vals}
	}
	tests := []struct {
		name    string
		types   []btf.Type
		want    []AttachType
		wantErr string
	}{
		{"values without the marker, in value order", []btf.Type{enum(
			btf.EnumValue{Name: "BPF_CGROUP_INET_EGRESS", Value: 1}, btf.EnumValue{Name: "BPF_CGROUP_INET_INGRESS", Value: 0},
			btf.EnumValue{Name: "__MAX_BPF_ATTACH_TYPE", Value: 2},
		)}, []AttachType{{"BPF_CGROUP_INET_INGRESS", 0}, {"BPF_CGROUP_INET_EGRESS", 1}}, ""},
		{"no enum", []btf.Type{u32}, nil, "enum bpf_attach_type"},
		{"not an enum", []btf.Type{&btf.Typedef{Name: "bpf_attach_type", Type: u32}}, nil, "enum bpf_attach_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AttachTypes(testenv.BTFSpec(t, tt.types...))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestMayDeclareKinds: BTF that declares a kind passes the cheap test; BTF of a module that only
// uses a kind (a tcp_congestion_ops instance, no wrapper) and BTF of no kind at all do not, and
// parsing them finds no kind either.
func TestMayDeclareKinds(t *testing.T) {
	tcp := kindStruct("tcp_congestion_ops", btf.Member{Name: "cong_avoid", Type: fnPtr(3)})
	tests := []struct {
		name  string
		types []btf.Type
		want  bool
	}{
		{"wrapper of a kind", []btf.Type{wrapper("tcp_congestion_ops", tcp, false)}, true},
		{"the kind's struct alone", []btf.Type{tcp}, false},
		{"no struct_ops at all", []btf.Type{fnPtr(2)}, false},
	}
	for _, tt := range tests {
		raw := testenv.MarshalBTF(t, tt.types...)
		if got := MayDeclareKinds(raw); got != tt.want {
			t.Errorf("%s: MayDeclareKinds = %v, want %v", tt.name, got, tt.want)
		}
		kinds, err := StructOpsKinds(testenv.BTFSpec(t, tt.types...), "")
		if err != nil || (len(kinds) > 0) != tt.want {
			t.Errorf("%s: StructOpsKinds = %v, %v; the cheap test says %v", tt.name, kinds, err, tt.want)
		}
	}
}

// TestVmlinuxStructOpsKindsHost reads this machine's kernel BTF both ways: the kinds found from
// the string table are those found by decoding every type.
func TestVmlinuxStructOpsKindsHost(t *testing.T) {
	raw, err := os.ReadFile("/sys/kernel/btf/vmlinux")
	testenv.Need(t, err, "a kernel with CONFIG_DEBUG_INFO_BTF")
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	all, err := StructOpsKinds(spec, "")
	if err != nil {
		t.Fatal(err)
	}
	fast, err := VmlinuxStructOpsKinds(spec, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 || !reflect.DeepEqual(fast, all) {
		t.Errorf("from the string table: %s\nfrom every type:      %s", kindNames(fast), kindNames(all))
	}
}

func kindNames(kinds []StructOpsKind) []string {
	var out []string
	for _, k := range kinds {
		out = append(out, k.Name)
	}
	return out
}
