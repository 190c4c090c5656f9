package kfunctags

import (
	"slices"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// TestTagged encodes BTF with the tag in every place it may sit and reads it back: only a tag
// on the FUNC itself makes a kfunc.
func TestTagged(t *testing.T) {
	u64 := &btf.Int{Name: "u64", Size: 8}
	proto := &btf.FuncProto{Return: u64, Params: []btf.FuncParam{{Name: "x", Type: u64}}}
	fn := func(name string, tags []string, paramTags [][]string) *btf.Func {
		return &btf.Func{Name: name, Type: proto, Linkage: btf.GlobalFunc, Tags: tags, ParamTags: paramTags}
	}
	tests := []struct {
		name  string
		types []btf.Type
		want  []string
	}{
		{"no tags at all", []btf.Type{fn("bpf_a", nil, nil)}, nil},
		{"tagged, sorted", []btf.Type{fn("bpf_z", []string{Tag}, nil), fn("bpf_a", []string{Tag}, nil), fn("bpf_m", nil, nil)}, []string{"bpf_a", "bpf_z"}},
		{"beside another tag", []btf.Type{fn("bpf_a", []string{"other", Tag}, nil)}, []string{"bpf_a"}},
		{"another tag only", []btf.Type{fn("bpf_a", []string{"bpf_kfunc_x"}, nil)}, nil},
		{"tag on a parameter", []btf.Type{fn("bpf_a", nil, [][]string{{Tag}})}, nil},
		{"tag on a typedef", []btf.Type{&btf.Typedef{Name: "bpf_t", Type: u64, Tags: []string{Tag}}}, nil},
		{"two FUNCs of one name", []btf.Type{fn("bpf_a", []string{Tag}, nil), fn("bpf_a", []string{Tag}, nil)}, []string{"bpf_a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Tagged(testenv.BTFSpec(t, tt.types...))
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("Tagged = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	vm := func(names ...string) []Observed {
		var out []Observed
		for _, n := range names {
			out = append(out, Observed{Name: n})
		}
		return out
	}
	mod := Observed{Name: "bpf_mod_fn", Module: "nf_conntrack"}
	tests := []struct {
		name     string
		tagged   []string
		observed []Observed
		want     Diff
	}{
		{"equal", []string{"a", "b"}, vm("b", "a"), Diff{}},
		{"missing from the observations", []string{"a", "b", "c"}, vm("a"), Diff{OnlyImage: []string{"b", "c"}}},
		{"not tagged in the image", []string{"a"}, vm("a", "z", "y"), Diff{OnlyObserved: []string{"y", "z"}}},
		{"both ways", []string{"a", "b"}, vm("a", "c"), Diff{OnlyImage: []string{"b"}, OnlyObserved: []string{"c"}}},
		{"untagged observation counts", []string{"a"}, append(vm("a"), Observed{Name: "old"}), Diff{OnlyObserved: []string{"old"}}},
		{"module kfuncs apart", []string{"a"}, append(vm("a"), mod), Diff{Modules: []string{"nf_conntrack:bpf_mod_fn"}}},
		// A module kfunc does not stand in for a vmlinux one of the same name.
		{"module kfunc of a tagged name", []string{"a", "bpf_mod_fn"}, append(vm("a"), mod), Diff{OnlyImage: []string{"bpf_mod_fn"}, Modules: []string{"nf_conntrack:bpf_mod_fn"}}},
		{"observed twice", []string{"a"}, vm("a", "a", "x", "x"), Diff{OnlyObserved: []string{"x"}}},
		{"nothing either side", nil, nil, Diff{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compare(tt.tagged, tt.observed)
			if !slices.Equal(got.OnlyImage, tt.want.OnlyImage) || !slices.Equal(got.OnlyObserved, tt.want.OnlyObserved) ||
				!slices.Equal(got.Modules, tt.want.Modules) {
				t.Errorf("Compare = %+v, want %+v", got, tt.want)
			}
			if wantEqual := len(tt.want.OnlyImage)+len(tt.want.OnlyObserved) == 0; got.Equal() != wantEqual {
				t.Errorf("Equal = %v, want %v", got.Equal(), wantEqual)
			}
		})
	}
}
