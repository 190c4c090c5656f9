package bpfobj

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// compile builds testdata/NAME.c as a little-endian BPF object in a temporary directory with
// clang, as users build theirs, and returns its path.
func compile(t testing.TB, name string) string {
	t.Helper()
	return compileFor(t, name, "bpfel")
}

// compileFor is compile for a clang target: bpfel or bpfeb.
func compileFor(t testing.TB, name, target string) string {
	t.Helper()
	clang := testenv.NeedCommand(t, "clang", "clang")
	out := filepath.Join(t.TempDir(), name+"-"+target+".o")
	cmd := exec.Command(clang, "-target", target, "-O2", "-g", "-c", filepath.Join("testdata", name+".c"), "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang %s.c: %v\n%s", name, err, b)
	}
	return out
}

// program returns the program called name of obj, failing t when there is none.
func program(t *testing.T, obj *Object, name string) Program {
	t.Helper()
	for _, p := range obj.Programs {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("%s: no program %s among %+v", obj.Path, name, obj.Programs)
	return Program{}
}

func TestReadPrograms(t *testing.T) {
	objects := map[string]*Object{}
	for _, name := range []string{"progs", "weak"} {
		objects[name] = testenv.Must(Read(compile(t, name)))(t)
	}
	if objects["progs"].LoaderError != "" {
		t.Errorf("progs.o: the loader refused it: %s", objects["progs"].LoaderError)
	}
	if le := objects["weak"].LoaderError; !strings.Contains(le, "STB_WEAK") {
		t.Errorf("weak.o: LoaderError = %q, want cilium/ebpf's refusal of the weak map", le)
	}
	for name, obj := range objects {
		sum := sha256.Sum256(testenv.Must(os.ReadFile(obj.Path))(t))
		if obj.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s.o: SHA256 %s is not the file's", name, obj.SHA256)
		}
		if (obj.Spec == nil) != (obj.LoaderError != "") {
			t.Errorf("%s.o: spec %v with loader error %q: one of them, never both or neither", name, obj.Spec != nil, obj.LoaderError)
		}
	}
	for _, tc := range []struct {
		object, name string
		want         Program
	}{
		{"progs", "helper_and_map", Program{Section: "kprobe/do_unlinkat", ProgType: "kprobe", Target: "do_unlinkat", License: "GPL", GPL: true,
			Calls: Calls{Helpers: []Helper{{1, "bpf_map_lookup_elem"}, {14, "bpf_get_current_pid_tgid"}}, Maps: []Map{{".rodata", "Array"}, {"counts", "Hash"}}}}},
		{"progs", "kfunc_call", Program{Section: "fentry/do_unlinkat", ProgType: "tracing", AttachType: "BPF_TRACE_FENTRY", Target: "do_unlinkat", License: "GPL", GPL: true,
			Calls: Calls{Kfuncs: []string{"bpf_rcu_read_lock", "bpf_rcu_read_unlock"}}}},
		{"progs", "subprogram", Program{Section: "tp_btf/sched_switch", ProgType: "tracing", AttachType: "BPF_TRACE_RAW_TP", Target: "sched_switch", License: "GPL", GPL: true,
			Calls: Calls{Helpers: []Helper{{5, "bpf_ktime_get_ns"}}}}},
		{"progs", "unknown_helper", Program{Section: "kprobe/do_sys_open", ProgType: "kprobe", Target: "do_sys_open", License: "GPL", GPL: true,
			Calls: Calls{Helpers: []Helper{{999, ""}}}}},
		{"progs", "iterator", Program{Section: "iter/task", ProgType: "tracing", AttachType: "BPF_TRACE_ITER", Target: "task", License: "GPL", GPL: true}},
		{"progs", "member", Program{Section: "struct_ops/tcp_congestion_ops.cong_avoid", ProgType: "struct_ops", Target: "tcp_congestion_ops.cong_avoid", License: "GPL", GPL: true}},
		{"progs", "unknown_section", Program{Section: "custom/probe", SectionError: `"custom" is neither a libbpf section prefix nor a program type name`, License: "GPL", GPL: true}},
		{"weak", "weak_map", Program{Section: "uprobe", ProgType: "kprobe", License: "Proprietary",
			Calls: Calls{Helpers: []Helper{{1, "bpf_map_lookup_elem"}}, Kfuncs: []string{"bpf_rcu_read_lock"}, Maps: []Map{{"events", "RingBuf"}}}}},
		{"weak", "weak_sub", Program{Section: "fentry/vfs_read", ProgType: "tracing", AttachType: "BPF_TRACE_FENTRY", Target: "vfs_read", License: "Proprietary",
			Calls: Calls{Helpers: []Helper{{5, "bpf_ktime_get_ns"}}}}},
	} {
		t.Run(tc.object+"/"+tc.name, func(t *testing.T) {
			got := program(t, objects[tc.object], tc.name)
			tc.want.Name = tc.name
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestReadELFAgrees reads a object the loader takes from its ELF alone too: the fallback must
// find what the loader finds, or objects the loader refuses would be answered differently.
func TestReadELFAgrees(t *testing.T) {
	path := compile(t, "progs")
	data := testenv.Must(os.ReadFile(path))(t)
	f := testenv.Must(checkELF(path, data))(t)
	reg := testenv.Must(helpers())(t)
	fromLoaderProgs, _, err := fromLoader(data, reg)
	if err != nil {
		t.Fatal(err)
	}
	fromELFProgs := testenv.Must(fromELF(f, data, reg))(t)
	byName := map[string]Program{}
	for _, p := range fromELFProgs {
		byName[p.Name] = p
	}
	if len(fromELFProgs) != len(fromLoaderProgs) {
		t.Errorf("the ELF gives %d programs, the loader %d", len(fromELFProgs), len(fromLoaderProgs))
	}
	for _, want := range fromLoaderProgs {
		if got := byName[want.Name]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s from the ELF:\n  %+v\nfrom the loader:\n  %+v", want.Name, got, want)
		}
	}
}

func TestReadBadInput(t *testing.T) {
	dir := t.TempDir()
	text := testenv.WriteFile(t, filepath.Join(dir, "notes.txt"), []byte("this is a text file\n"))
	truncated := testenv.WriteFile(t, filepath.Join(dir, "truncated.o"), []byte("\x7fELF\x02\x01\x01"))
	host := testenv.Must(os.Executable())(t) // this test binary: an ELF for the host's machine
	fifo := testenv.Nodes(t, dir, "fifo")[0]
	for _, tc := range []struct {
		name, path, want string
		is               error
	}{
		{"text file", text, "not an ELF file", ErrBadInput},
		{"truncated ELF", truncated, "not a readable ELF file", ErrBadInput},
		{"host ELF", host, "not BPF (e_machine 62, want 247)", ErrBadInput},
		{"FIFO", fifo, "not a regular file", files.ErrRefused},
		{"missing", filepath.Join(dir, "missing.o"), "no such file", os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := Read(tc.path)
			if obj != nil || err == nil || !errors.Is(err, tc.is) {
				t.Fatalf("Read = %v, %v; want an error matching %v", obj, err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s and %q", err, tc.path, tc.want)
			}
		})
	}
}

// TestReadBigEndian reads the same programs built for big-endian BPF: what they call does not
// depend on the byte order, whichever reader takes the object.
func TestReadBigEndian(t *testing.T) {
	for _, name := range []string{"progs", "weak"} {
		t.Run(name, func(t *testing.T) {
			little := testenv.Must(Read(compileFor(t, name, "bpfel")))(t)
			big := testenv.Must(Read(compileFor(t, name, "bpfeb")))(t)
			t.Logf("loader on the big-endian object: %q", big.LoaderError)
			if !reflect.DeepEqual(big.Programs, little.Programs) {
				t.Errorf("big-endian:\n  %+v\nlittle-endian:\n  %+v", big.Programs, little.Programs)
			}
		})
	}
}
