package kfunctags

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
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

// TestRecordedObservations checks every recorded observation against the BTF of the image it
// names, read from the user's cache: on a kernel whose BTF tags kfuncs the observed vmlinux
// kfuncs are exactly the tagged ones, and on one whose BTF predates the tag none is marked
// tagged. The images of 5.10 and 7.3 are ones CI boots: a missing one is fetched when
// BPFMATRIX_TEST_NETWORK asks for it, and fails under CI otherwise; the others are checked
// where they are cached.
func TestRecordedObservations(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "cmd", "bpfmatrix", "testdata", "observations", "*.json.gz"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no recorded observations: %v", err)
	}
	for _, p := range paths {
		kernel := strings.TrimSuffix(filepath.Base(p), ".json.gz")
		t.Run(kernel, func(t *testing.T) {
			doc, err := observation.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if doc.Guest == nil || doc.Guest.SHA256 == "" {
				t.Fatalf("%s names no image", p)
			}
			spec, err := vmimages.ImageBTF(context.Background(), "", doc.Guest.SHA256)
			ciKernel := kernel == "5.10" || kernel == "7.3"
			if errors.Is(err, fs.ErrNotExist) && ciKernel && testenv.Network() {
				// go test runs packages in parallel, so another package's test that would fetch
				// it may not have run yet.
				spec, err = fetchImageBTF(t, kernel, doc.Guest.SHA256)
			}
			switch {
			case errors.Is(err, fs.ErrNotExist) && ciKernel:
				testenv.Need(t, err, "bpfmatrix kernels fetch "+kernel+", or set "+testenv.EnvNetwork+"=1")
			case errors.Is(err, fs.ErrNotExist):
				testenv.Optional(t, err, "bpfmatrix kernels fetch "+kernel)
			case err != nil:
				t.Fatal(err)
			}
			tagged, err := Tagged(spec)
			if err != nil {
				t.Fatal(err)
			}
			if len(tagged) == 0 {
				for _, k := range doc.Kfuncs {
					if k.Tagged && k.Module == "" {
						t.Errorf("kernel %s: image BTF tags no kfunc, the observation marks %s tagged", kernel, k.Name)
					}
				}
				t.Logf("kernel %s: image BTF tags no kfunc; the observation lists %d by known name", kernel, len(doc.Kfuncs))
				return
			}
			d := Compare(tagged, observedOf(doc.Kfuncs))
			if len(d.OnlyImage) > 0 {
				t.Errorf("kernel %s: %d kfuncs tagged in the image, missing from the observation: %s", kernel, len(d.OnlyImage), strings.Join(d.OnlyImage, ", "))
			}
			if len(d.OnlyObserved) > 0 {
				t.Errorf("kernel %s: %d vmlinux kfuncs observed, not tagged in the image: %s", kernel, len(d.OnlyObserved), strings.Join(d.OnlyObserved, ", "))
			}
			t.Logf("kernel %s: %d kfuncs tagged in the image; module kfuncs (not compared): %d %s", kernel, len(tagged), len(d.Modules), strings.Join(d.Modules, ", "))
		})
	}
}

// fetchImageBTF fetches kernel's image as the built-in kernels file pins it (the built-in lock is
// read-only, so the checkout's kernels.lock is not rewritten) and reads its BTF.
func fetchImageBTF(t *testing.T, kernel, sum string) (*btf.Spec, error) {
	t.Helper()
	cfg, err := vmimages.LoadConfig(vmimages.BuiltinKernelsFile)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := cfg.Select([]string{kernel})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&vmimages.Fetcher{}).Fetch(context.Background(), entries); err != nil {
		t.Fatalf("fetching the %s image: %v", kernel, err)
	}
	return vmimages.ImageBTF(context.Background(), "", sum)
}

// observedOf copies what Compare reads of an observation's kfuncs.
func observedOf(ks []observation.Kfunc) []Observed {
	out := make([]Observed, len(ks))
	for i, k := range ks {
		out[i] = Observed{Name: k.Name, Module: k.Module}
	}
	return out
}
