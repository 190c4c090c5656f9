package kernelsrc

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// writeTree writes files (path -> content) under a new directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		testenv.WriteFile(t, full, []byte(content))
	}
	return root
}

const btfC = `
static int bpf_prog_type_to_kfunc_hook(enum bpf_prog_type prog_type)
{
	switch (prog_type) {
	case BPF_PROG_TYPE_UNSPEC:
		return BTF_KFUNC_HOOK_COMMON;
	case BPF_PROG_TYPE_XDP:
		return BTF_KFUNC_HOOK_XDP;
	case BPF_PROG_TYPE_TRACING:
	case BPF_PROG_TYPE_LSM:
		return BTF_KFUNC_HOOK_TRACING;
	default:
		return BTF_KFUNC_HOOK_MAX;
	}
}
`

func smallTree() map[string]string {
	return map[string]string{
		"Makefile":         "# SPDX\nVERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 118\nEXTRAVERSION =\nNAME = Baby Opossum Posse\n",
		"kernel/bpf/btf.c": btfC,
		"include/net/meta.h": "#define META_LIST \\\n\tMETA(a, bpf_meta_one) \\\n\tMETA(b, bpf_meta_two)\n" +
			"#define UNRELATED 1\n",
		"net/core/meta.c": `
BTF_KFUNCS_START(meta_ids)
#define META(_, name) BTF_ID_FLAGS(func, name, KF_TRUSTED_ARGS)
META_LIST
#undef META
BTF_KFUNCS_END(meta_ids)
static const struct btf_kfunc_id_set meta_set = { .owner = THIS_MODULE, .set = &meta_ids, };
static int __init meta_init(void) { return register_btf_kfunc_id_set(BPF_PROG_TYPE_XDP, &meta_set); }
`,
		"kernel/bpf/helpers.c": `
BTF_KFUNCS_START(common_btf_ids)
BTF_ID_FLAGS(func, bpf_rcu_read_lock)
BTF_KFUNCS_END(common_btf_ids)
static const struct btf_kfunc_id_set common_kfunc_set = { .owner = THIS_MODULE, .set = &common_btf_ids };
static int __init kfunc_init(void) { return register_btf_kfunc_id_set(BPF_PROG_TYPE_UNSPEC, &common_kfunc_set); }
`,
		// A set of the same static name in another file, and an fmod_ret list.
		"kernel/bpf/arena.c": `
BTF_KFUNCS_START(arena_kfuncs)
BTF_ID_FLAGS(func, bpf_arena_alloc_pages, KF_TRUSTED_ARGS | KF_SLEEPABLE)
BTF_KFUNCS_END(arena_kfuncs)
static const struct btf_kfunc_id_set common_kfunc_set = { .owner = THIS_MODULE, .set = &arena_kfuncs };
BTF_SET8_START(fmodret_ids)
BTF_ID_FLAGS(func, update_socket_protocol)
BTF_SET8_END(fmodret_ids)
static const struct btf_kfunc_id_set fmodret_set = { .owner = THIS_MODULE, .set = &fmodret_ids };
static int __init arena_init(void)
{
	register_btf_fmodret_id_set(&fmodret_set);
	return register_btf_kfunc_id_set(BPF_PROG_TYPE_UNSPEC, &common_kfunc_set);
}
`,
		// The selftests' modules are no part of the kernel.
		"tools/testing/selftests/bpf/bpf_testmod/bpf_testmod.c": "BTF_KFUNCS_START(x)\nBTF_ID_FLAGS(func, bpf_testmod_test)\nBTF_KFUNCS_END(x)\n",
	}
}

func TestParse(t *testing.T) {
	src, err := Parse(writeTree(t, smallTree()))
	if err != nil {
		t.Fatal(err)
	}
	if src.Kernel != "6.12.118" {
		t.Errorf("kernel %q", src.Kernel)
	}
	if got, want := src.Kfuncs(), []string{"bpf_arena_alloc_pages", "bpf_meta_one", "bpf_meta_two", "bpf_rcu_read_lock"}; !slices.Equal(got, want) {
		t.Errorf("kfuncs %v, want %v", got, want)
	}
	for _, name := range []string{"bpf_meta_one", "bpf_meta_two"} {
		a, ok := src.Lookup(name, nil)
		if !ok || a.Common || !slices.Equal(a.ProgTypes, []string{"xdp"}) {
			t.Errorf("%s: %+v", name, a)
		}
	}
	// Each file's common_kfunc_set registers its own file's set.
	for _, name := range []string{"bpf_arena_alloc_pages", "bpf_rcu_read_lock"} {
		if a, ok := src.Lookup(name, nil); !ok || !a.Common || len(a.Registrations) != 1 {
			t.Errorf("%s: %+v", name, a)
		}
	}
	if len(src.IDSets) != 3 {
		t.Errorf("id sets %+v: the fmod_ret one should be left out", src.IDSets)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(map[string]string)
		want string
	}{
		{"no hook switch", func(f map[string]string) { delete(f, "kernel/bpf/btf.c") }, "defined in 0 files"},
		{"no Makefile", func(f map[string]string) { delete(f, "Makefile") }, "kernel version"},
		{"list macro defined twice differently", func(f map[string]string) {
			f["include/net/other.h"] = "#define META_LIST META(c, bpf_meta_three)\n"
		}, "defined differently"},
		{"kfunc registration of the fmod_ret set", func(f map[string]string) {
			f["kernel/bpf/arena.c"] += "static int g(void) { return register_btf_kfunc_id_set(BPF_PROG_TYPE_XDP, &fmodret_set); }\n"
		}, "fmodret_set is not defined"},
		{"registration for an unlisted type", func(f map[string]string) {
			f["kernel/bpf/helpers.c"] += "static int g(void) { return register_btf_kfunc_id_set(BPF_PROG_TYPE_SK_LOOKUP, &common_kfunc_set); }\n"
		}, "does not list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := smallTree()
			tt.edit(files)
			_, err := Parse(writeTree(t, files))
			testenv.WantErr(t, err, tt.want)
		})
	}
}

func TestMakefileVersion(t *testing.T) {
	tests := []struct{ makefile, want string }{
		{"VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 118\nEXTRAVERSION =\n", "6.12.118"},
		{"VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 0\nEXTRAVERSION = -rc7\n", "7.3.0-rc7"},
		{"VERSION = 6\nPATCHLEVEL = 1\n", "6.1"},
	}
	for _, tt := range tests {
		root := writeTree(t, map[string]string{"Makefile": tt.makefile})
		got, err := makefileVersion(filepath.Join(root, "Makefile"))
		if err != nil || got != tt.want {
			t.Errorf("%q: %q, %v; want %q", tt.makefile, got, err, tt.want)
		}
	}
	root := writeTree(t, map[string]string{"Makefile": "all:\n"})
	if _, err := makefileVersion(filepath.Join(root, "Makefile")); err == nil {
		t.Error("a Makefile without a version was read")
	}
}
