package objload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/bpfobj"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/internal/testobjects"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// loadAll loads the test object called name into this host's kernel and returns its answers by
// program name, failing t when Load fails.
func loadAll(t *testing.T, name string, opts Options) map[string]observation.ProgramLoad {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.Need(t, rlimit.RemoveMemlock(), "raise RLIMIT_MEMLOCK")
	out := map[string]observation.ProgramLoad{}
	err := Load(context.Background(), Object{Path: testobjects.Path(t, name), SHA256: "sha-" + name}, opts, func(r observation.ProgramLoad) error {
		if _, dup := out[r.Program]; dup {
			t.Errorf("%s: program %s answered twice", name, r.Program)
		}
		out[r.Program] = r
		return nil
	})
	if err != nil {
		t.Fatalf("Load %s: %v", name, err)
	}
	return out
}

// outcome is what a test expects of one program: loaded, or refused with a cause and words of
// its reason. Some programs have two acceptable outcomes, for kernels with and without a
// feature (this host's kernel runs without BPF trampolines).
type outcome struct {
	loaded bool
	cause  observation.Cause
	reason string
}

// check reports r unless it matches one of want.
func check(t *testing.T, r observation.ProgramLoad, want ...outcome) {
	t.Helper()
	for _, w := range want {
		if r.Loaded == w.loaded && r.Cause == w.cause && strings.Contains(r.Reason, w.reason) {
			return
		}
	}
	t.Errorf("%s/%s: loaded %v, cause %q, reason %q; want one of %+v\nlog:\n%s", r.Object, r.Program, r.Loaded, r.Cause, r.Reason, want, r.Log)
}

var (
	loaded = outcome{loaded: true}
	// noTrampoline is a tracing or LSM program on a kernel that cannot build trampolines (this
	// host) or has the BPF LSM inactive.
	noTrampoline = outcome{cause: observation.CauseProgType, reason: "before verification"}
	noTramp524   = outcome{cause: observation.CauseProgType, reason: "ENOTSUPP"}
)

func TestLoadCauses(t *testing.T) {
	for _, tc := range []struct {
		object, program string
		want            []outcome
	}{
		{"helper_unknown", "new_helper", []outcome{{cause: observation.CauseHelperUnknown, reason: "invalid func unknown#999"}}},
		{"helper_not_for_type", "override_in_socket", []outcome{{cause: observation.CauseHelperNotForType, reason: "bpf_override_return#58"}}},
		{"gpl_only", "read_proprietary", []outcome{{cause: observation.CauseGPLOnly, reason: "GPL-restricted"}}},
		{"kfunc_unknown", "call_missing", []outcome{{cause: observation.CauseKfuncUnknown, reason: "bpf_no_such_kfunc"}}},
		{"kfunc_not_for_type", "task_in_socket", []outcome{{cause: observation.CauseKfuncNotForType, reason: "bpf_task_from_pid"}}},
		{"prog_type", "lsm_open", []outcome{noTrampoline, noTramp524, loaded}},
		{"attach_target", "fentry_missing", []outcome{{cause: observation.CauseAttachTarget, reason: `"bpfmatrix_no_such_function" not found`}}},
		{"attach_target", "tp_btf_missing", []outcome{{cause: observation.CauseAttachTarget, reason: `"bpfmatrix_no_such_event" not found`}}},
		{"fentry_dummy", "retargeted", []outcome{{cause: observation.CauseAttachTarget, reason: `"dummy_fentry" not found`}}},
		{"fentry_dummy", "retargeted_kprobe", []outcome{loaded}}, // a kprobe's target is checked when it attaches
		{"core_relocation", "read_missing_field", []outcome{{cause: observation.CauseCORERelocation, reason: `no match in the kernel's BTF for CORERelocation(byte_off, Struct:"task_struct"`}}},
		{"map", "use_bad_ring", []outcome{{cause: observation.CauseMap, reason: "map bad_ring"}}},
		{"btf", "call_pick", []outcome{{cause: observation.CauseBTF, reason: "pick() doesn't return scalar"}}},
		{"verifier", "null_deref", []outcome{{cause: observation.CauseVerifier, reason: "invalid mem access 'map_value_or_null'"}}},
		{"loader_weak", "usdt_like", []outcome{{cause: observation.CauseLoader, reason: "STB_WEAK"}}},
		{"loader_weak", "plain_kprobe", []outcome{{cause: observation.CauseLoader, reason: "STB_WEAK"}}},
		{"xdp_pass", "pass", []outcome{loaded}},
		{"ringbuf_zero", "send_event", []outcome{loaded}}, // its unused map would be refused
		{"stackmap", "take_stack", []outcome{loaded}},
		{"kversion", "version_parity", []outcome{loaded}},
		{"pinned", "count_open", []outcome{loaded}},
		{"kconfig", "config_values", []outcome{loaded}},
		{"raw_tp", "on_sys_enter", []outcome{loaded}},
		{"globals", "count_packets", []outcome{loaded}}, // .rodata and .bss
		{"unknown_section", "unknown_kind", []outcome{{cause: observation.CauseLoader, reason: "section bpfmatrix/no_such_kind"}}},
	} {
		t.Run(tc.object+"/"+tc.program, func(t *testing.T) {
			got := loadAll(t, tc.object, Options{})
			r, ok := got[tc.program]
			if !ok {
				t.Fatalf("no answer for %s among %v", tc.program, slices.Sorted(mapsKeys(got)))
			}
			check(t, r, tc.want...)
			if r.Object != tc.object+".o" || r.ObjectSHA256 != "sha-"+tc.object || r.Section == "" || r.ProgType == "" && r.Cause != observation.CauseLoader {
				t.Errorf("record not filled in: %+v", r)
			}
			if r.Loaded != (r.Cause == "") || r.Loaded != (r.Reason == "") {
				t.Errorf("loaded %v with cause %q and reason %q", r.Loaded, r.Cause, r.Reason)
			}
		})
	}
}

// TestLoadEveryProgram checks that every test object gets one answer per program bpfobj reads, in
// its order, and that every refusal has a cause other than unknown.
func TestLoadEveryProgram(t *testing.T) {
	for _, name := range testobjects.Names() {
		path := testobjects.Path(t, name)
		obj := testenv.Must(bpfobj.Read(path))(t)
		var got []string
		testenv.NeedRoot(t)
		err := Load(context.Background(), Object{Path: path}, Options{Attach: true}, func(r observation.ProgramLoad) error {
			got = append(got, r.Program)
			if !r.Loaded && (r.Cause == observation.CauseUnknown || !r.Cause.Valid()) {
				t.Errorf("%s/%s: cause %q: %s", name, r.Program, r.Cause, r.Reason)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var want []string
		for _, p := range obj.Programs {
			want = append(want, p.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: answers for %v, want %v", name, got, want)
		}
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestLoadDefaults(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config")
	testenv.Must(0, os.WriteFile(cfg, []byte("CONFIG_HZ=300\n# CONFIG_X is not set\n"), 0o644))(t)
	noHZ := filepath.Join(t.TempDir(), "config")
	testenv.Must(0, os.WriteFile(noHZ, []byte("CONFIG_BPF=y\n"), 0o644))(t)
	set := func(words ...string) []Setting {
		var out []Setting
		for _, w := range words {
			out = append(out, testenv.Must(ParseSetting(w))(t))
		}
		return out
	}
	for _, tc := range []struct {
		name, object, program string
		opts                  Options
		want                  []outcome
		defaults, target      string
	}{
		{"ringbuf sized 0", "ringbuf_zero", "send_event", Options{}, []outcome{loaded}, "map events: max_entries 0 set to", ""},
		{"stack map without value size", "stackmap", "take_stack", Options{}, []outcome{loaded}, "map stacks: value_size 0 set to 1016", ""},
		{"kernel version without a configuration", "kversion", "version_parity", Options{}, []outcome{loaded}, "LINUX_KERNEL_VERSION=", ""},
		{"map sized by --set", "map", "use_bad_ring", Options{Set: set("bad_ring.max_entries=8192")}, []outcome{loaded}, "max_entries 12345 set to 8192 (--set)", ""},
		{"--set for another object", "map", "use_bad_ring", Options{Set: set("other.o:bad_ring.max_entries=8192")}, []outcome{{cause: observation.CauseMap}}, "", ""},
		{"--set for this object", "map", "use_bad_ring", Options{Set: set("map.o:bad_ring.max_entries=4096")}, []outcome{loaded}, "set to 4096 (--set)", ""},
		{"fentry retargeted", "fentry_dummy", "retargeted", Options{Set: set("retargeted.target=vfs_read")}, []outcome{loaded, noTramp524, noTrampoline}, `target "dummy_fentry" set to "vfs_read"`, "vfs_read"},
		{"kconfig from a file", "kconfig", "config_values", Options{KernelConfig: cfg}, []outcome{loaded}, "CONFIG_HZ=300", ""},
		{"kconfig option missing", "kconfig", "config_values", Options{KernelConfig: noHZ}, []outcome{{cause: observation.CauseLoader, reason: "CONFIG_HZ is not in the kernel's configuration"}}, "", ""},
		{"kconfig from the running kernel", "kconfig", "config_values", Options{}, []outcome{loaded}, "CONFIG_HZ, LINUX_KERNEL_VERSION from the running kernel", ""},
		{"pinned privately", "pinned", "count_open", Options{}, []outcome{loaded}, "pinned by name in a private bpffs", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := loadAll(t, tc.object, tc.opts)[tc.program]
			check(t, r, tc.want...)
			if tc.defaults != "" && !slices.ContainsFunc(r.Defaults, func(d string) bool { return strings.Contains(d, tc.defaults) }) {
				t.Errorf("defaults %q, want one with %q", r.Defaults, tc.defaults)
			}
			if tc.defaults == "" && len(r.Defaults) > 0 {
				t.Errorf("defaults %q, want none", r.Defaults)
			}
			if tc.target != "" && r.Target != tc.target {
				t.Errorf("target %q, want %q", r.Target, tc.target)
			}
		})
	}
}

// TestLoadPrivatePins checks that the private bpffs of pinned maps is gone after the load, and that
// a PinDir given is used instead.
func TestLoadPrivatePins(t *testing.T) {
	r := loadAll(t, "pinned", Options{})["count_open"]
	if len(r.Defaults) != 1 {
		t.Fatalf("defaults %q", r.Defaults)
	}
	dir := strings.TrimSuffix(r.Defaults[0][strings.LastIndex(r.Defaults[0], "(")+1:], ")")
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("private bpffs %s left behind: %v", dir, err)
	}
	mine := t.TempDir()
	testenv.Need(t, mountBPF(mine), "mount a bpffs")
	t.Cleanup(func() { unmount(mine) })
	r = loadAll(t, "pinned", Options{PinDir: mine})["count_open"]
	check(t, r, loaded)
	if _, err := os.Stat(filepath.Join(mine, "shared")); err != nil {
		t.Errorf("map not pinned in the PinDir given: %v", err)
	}
}

func TestLoadAttach(t *testing.T) {
	got := loadAll(t, "raw_tp", Options{Attach: true})["on_sys_enter"]
	if got.Attached == nil || !*got.Attached || got.AttachError != "" {
		t.Errorf("raw_tp: attached %v (%s), want true", got.Attached, got.AttachError)
	}
	got = loadAll(t, "xdp_pass", Options{Attach: true})["pass"]
	if got.Attached != nil {
		t.Errorf("xdp: attached %v, want nothing tried (no device)", *got.Attached)
	}
	got = loadAll(t, "fentry_dummy", Options{Attach: true})["retargeted_kprobe"]
	if got.Attached == nil || *got.Attached || got.AttachError == "" {
		t.Errorf("kprobe on dummy_kprobe: attached %v (%s), want false with the reason", got.Attached, got.AttachError)
	}
	got = loadAll(t, "raw_tp", Options{})["on_sys_enter"]
	if got.Attached != nil {
		t.Errorf("attach not asked: attached %v", *got.Attached)
	}
}

func TestLoadBadInput(t *testing.T) {
	text := filepath.Join(t.TempDir(), "notes.txt")
	testenv.Must(0, os.WriteFile(text, []byte("not an object\n"), 0o644))(t)
	err := Load(context.Background(), Object{Path: text}, Options{}, func(observation.ProgramLoad) error {
		t.Error("an answer for a text file")
		return nil
	})
	testenv.WantErrIs(t, err, bpfobj.ErrBadInput)
}

func TestLoadStops(t *testing.T) {
	testenv.NeedRoot(t)
	stop := errors.New("stop")
	n := 0
	err := Load(context.Background(), Object{Path: testobjects.Path(t, "attach_target")}, Options{}, func(observation.ProgramLoad) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("emit failing: Load returned %v after %d answers, want its error after 1", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = Load(ctx, Object{Path: testobjects.Path(t, "xdp_pass")}, Options{}, func(observation.ProgramLoad) error { n++; return nil })
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Errorf("cancelled: Load returned %v, %d answers", err, n-1)
	}
}

func mountBPF(dir string) error { return unix.Mount("bpf", dir, "bpf", 0, "") }

func unmount(dir string) { unix.Unmount(dir, unix.MNT_DETACH) }
