package objverdict

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/bpfobj"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// testObjects are the C sources under testdata whose compiled objects are checked in.
var testObjects = []string{"calls", "nongpl", "weak"}

// regs are the built-in registries.
func regs(t testing.TB) Registries {
	t.Helper()
	h, err := registry.Default()
	if err != nil {
		t.Fatal(err)
	}
	k, err := registry.DefaultKfuncs()
	if err != nil {
		t.Fatal(err)
	}
	return Registries{h, k}
}

// object reads the checked-in object testdata/name.o.
func object(t testing.TB, name string) *bpfobj.Object {
	t.Helper()
	obj, err := bpfobj.Read(filepath.Join("testdata", name+".o"))
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// program returns the program called name of the object testdata/object.o.
func program(t testing.TB, object_, name string) bpfobj.Program {
	t.Helper()
	for _, p := range object(t, object_).Programs {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("%s.o has no program %s", object_, name)
	return bpfobj.Program{}
}

// TestCheckedInObjects rebuilds each test object with clang and checks that the checked-in one
// says the same (programs, sections, calls, license): a source edited without `make objects`
// would otherwise go on testing the old object.
func TestCheckedInObjects(t *testing.T) {
	clang := testenv.NeedCommand(t, "clang", "clang")
	for _, name := range testObjects {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), name+".o")
			cmd := exec.Command(clang, "-target", "bpfel", "-O2", "-g", "-c", filepath.Join("testdata", name+".c"), "-o", out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("clang %s.c: %v\n%s", name, err, b)
			}
			fresh, err := bpfobj.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			old := object(t, name)
			if !reflect.DeepEqual(fresh.Programs, old.Programs) || (fresh.LoaderError == "") != (old.LoaderError == "") {
				t.Errorf("testdata/%s.o is stale: rebuild it from %s.c (clang -target bpfel -O2 -g)", name, name)
			}
		})
	}
}

// minKernel is the registry's first release of helper name, so that the expected sentences
// follow the registry rather than a copy of its facts.
func minKernel(t *testing.T, r Registries, helper string) string {
	t.Helper()
	h, err := r.Helpers.Find(helper)
	if err != nil {
		t.Fatal(err)
	}
	return h.MinKernel.String()
}

func TestStatic(t *testing.T) {
	r := regs(t)
	kf, err := r.Kfuncs.Find("bpf_task_from_pid")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		object, program, kernel, version string
		loaded                           bool
		cause                            observation.Cause
		reason                           []string
	}{
		{"calls", "loop_kprobe", "5.10", "5.10.262", false, observation.CauseHelperUnknown,
			[]string{"calls bpf_loop (id 181), offered from " + minKernel(t, r, "loop") + "; 5.10 does not define it"}},
		{"calls", "loop_kprobe", "6.1", "6.1.192", true, "", nil},
		{"calls", "xdp_helper_in_kprobe", "7.3", "7.3.4", false, observation.CauseHelperNotForType,
			[]string{"bpf_xdp_adjust_head (id 44)", "not offered to kprobe programs"}},
		{"calls", "kfunc_in_kprobe", "5.10", "5.10.262", false, observation.CauseKfuncUnknown,
			[]string{"calls bpf_task_from_pid, offered from " + kf.MinKernel.String() + "; 5.10 does not have it"}},
		{"calls", "kfunc_in_kprobe", "7.3", "7.3.4", false, observation.CauseKfuncNotForType,
			[]string{"calls bpf_task_from_pid, not callable from kprobe programs"}},
		{"calls", "kfunc_in_xdp", "6.1", "6.1.192", false, observation.CauseKfuncUnknown, []string{"bpf_task_from_pid"}},
		{"calls", "kfunc_in_xdp", "7.3", "7.3.4", true, "", nil},
		{"calls", "syscall_prog", "5.10", "5.10.262", false, observation.CauseProgType, []string{"syscall programs arrived in 5.14"}},
		{"calls", "syscall_prog", "6.1", "6.1.192", true, "", nil},
		{"calls", "guide_example", "7.3", "7.3.4", false, observation.CauseHelperUnknown, []string{"helper id 999, which no kernel defines"}},
		{"calls", "xdp_pass", "5.10", "5.10.262", true, "", nil},
		{"nongpl", "read_kernel", "7.3", "7.3.4", false, observation.CauseGPLOnly,
			[]string{"bpf_probe_read_kernel (id 113)", "GPL-compatible", `"Proprietary"`}},
		{"nongpl", "plain_xdp", "5.10", "5.10.262", true, "", nil},
		// No exact release pinned: the kernel's name is its series.
		{"calls", "loop_kprobe", "5.10", "", false, observation.CauseHelperUnknown, []string{"5.10 does not define it"}},
		// Neither a release nor a series: nothing can be asked.
		{"calls", "xdp_pass", "mine", "", false, observation.CauseUnknown, []string{"no release known for kernel mine"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%s", tt.object, tt.program, tt.kernel), func(t *testing.T) {
			a := Static(program(t, tt.object, tt.program), tt.kernel, tt.version, r.Helpers, r.Kfuncs)
			if a.Loaded != tt.loaded || a.Cause != tt.cause || !a.Static {
				t.Fatalf("loaded %v cause %q static %v (reason %q), want loaded %v cause %q static", a.Loaded, a.Cause, a.Static, a.Reason, tt.loaded, tt.cause)
			}
			for _, want := range tt.reason {
				if !strings.Contains(a.Reason, want) {
					t.Errorf("reason %q does not say %q", a.Reason, want)
				}
			}
			if tt.loaded && (a.Reason != "" || a.Explanation != "") {
				t.Errorf("a loaded answer has reason %q, explanation %q", a.Reason, a.Explanation)
			}
			if a.Program != tt.program || a.Kernel != tt.kernel || a.Calls.Helpers == nil || a.Calls.Kfuncs == nil || a.Calls.Maps == nil {
				t.Errorf("answer names %s on %s with calls %+v", a.Program, a.Kernel, a.Calls)
			}
		})
	}
}

// TestStaticFollowsRegistry answers with another registry: the answer is the registry's, not
// facts kept in this package. The small registry lacks bpf_loop, so its id is one no kernel
// defines there; a registry that dates bpf_loop to 5.4 lets 5.10 load it.
func TestStaticFollowsRegistry(t *testing.T) {
	r := regs(t)
	small, err := registry.Load(filepath.Join("..", "registry", "testdata", "small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	older := olderLoop(t, r)
	prog := program(t, "calls", "loop_kprobe")
	tests := []struct {
		name    string
		helpers *registry.Registry
		loaded  bool
		reason  string
	}{
		{"built-in", r.Helpers, false, "offered from " + minKernel(t, r, "loop")},
		{"small", small, false, "helper id 181, which no kernel defines"},
		{"bpf_loop from 5.4", older, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Static(prog, "5.10", "5.10.262", tt.helpers, r.Kfuncs)
			if a.Loaded != tt.loaded || !strings.Contains(a.Reason, tt.reason) {
				t.Errorf("loaded %v reason %q, want loaded %v and a reason saying %q", a.Loaded, a.Reason, tt.loaded, tt.reason)
			}
		})
	}
}

// olderLoop is the built-in registry with bpf_loop's min_kernel moved to 5.4.
func olderLoop(t *testing.T, r Registries) *registry.Registry {
	t.Helper()
	data, err := registry.ReadFile(filepath.Join("..", "registry", "helpers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "  name: loop\n")
	j := strings.Index(text[i:], `min_kernel: "`+minKernel(t, r, "loop")+`"`)
	if i < 0 || j < 0 {
		t.Fatal("helpers.yaml: no min_kernel of loop found")
	}
	text = text[:i+j] + `min_kernel: "5.4"` + text[i+j+len(`min_kernel: "`+minKernel(t, r, "loop")+`"`):]
	reg, err := registry.Parse("helpers.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestStaticObjectLoader: an object cilium/ebpf's loader refuses is answered `loader`, with the
// loader's words, for every program and kernel.
func TestStaticObjectLoader(t *testing.T) {
	obj := object(t, "weak")
	if obj.LoaderError == "" {
		t.Fatal("weak.o: the loader took it; the test needs an object it refuses")
	}
	ks := []Kernel{{"5.10", "5.10.262"}, {"7.3", "7.3.4"}}
	answers := StaticObject(obj, "weak.o", ks, regs(t))
	if len(answers) != len(obj.Programs)*len(ks) {
		t.Fatalf("%d answers for %d programs on %d kernels", len(answers), len(obj.Programs), len(ks))
	}
	for _, a := range answers {
		if a.Loaded || a.Cause != observation.CauseLoader || a.Reason != obj.LoaderError || a.Object != "weak.o" {
			t.Errorf("%s on %s: loaded %v cause %q reason %q object %q", a.Program, a.Kernel, a.Loaded, a.Cause, a.Reason, a.Object)
		}
	}
}
