package kernelsrc

import (
	"reflect"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

func scanString(t *testing.T, src string, header func(string) (*macro, error)) (fileFacts, error) {
	t.Helper()
	toks, err := tokenize(src)
	if err != nil {
		t.Fatal(err)
	}
	return scanFile("net/x.c", toks, header)
}

// sample is written the ways the kernel writes these forms: a set entry under #ifdef, a
// registration spread over lines after "ret = ret ?:", an initializer with a filter and a
// trailing comma, the function's own declaration, and a set built from a list macro.
const sample = `
BTF_KFUNCS_START(x_ids)
BTF_ID_FLAGS(func, bpf_x_acquire, KF_ACQUIRE | KF_RET_NULL)
#ifdef CONFIG_X
BTF_ID_FLAGS(func, bpf_x_only)
#endif
BTF_KFUNCS_END(x_ids)

static const struct btf_kfunc_id_set x_set = {
	.owner  = THIS_MODULE,
	.set    = &x_ids,
	.filter = x_filter,
};

int register_btf_kfunc_id_set(enum bpf_prog_type prog_type, const struct btf_kfunc_id_set *kset);

BTF_KFUNCS_START(y_ids)
#define Y(_, name) BTF_ID_FLAGS(func, name, KF_TRUSTED_ARGS)
Y_LIST
#undef Y
BTF_KFUNCS_END(y_ids)

static const struct btf_kfunc_id_set y_set = { .owner = THIS_MODULE, .set = &y_ids };

static int __init x_init(void)
{
	int ret = register_btf_kfunc_id_set(BPF_PROG_TYPE_XDP, &x_set);

	/* register_btf_kfunc_id_set(BPF_PROG_TYPE_LSM, &x_set) is not done */
	ret = ret ?: register_btf_kfunc_id_set(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
					       &x_set);
#if IS_ENABLED(CONFIG_Y)
	return ret ?: register_btf_kfunc_id_set(BPF_PROG_TYPE_UNSPEC, &y_set);
#endif
}
`

func TestScanFile(t *testing.T) {
	header := func(name string) (*macro, error) {
		if name == "Y_LIST" {
			return &macro{name: name, body: strings.Fields("Y ( 1 , bpf_y_one ) Y ( 2 , bpf_y_two )")}, nil
		}
		return nil, nil
	}
	f, err := scanString(t, sample, header)
	if err != nil {
		t.Fatal(err)
	}
	wantSets := []Set{
		{Name: "x_ids", File: "net/x.c", Line: 2, Kfuncs: []Entry{
			{Name: "bpf_x_acquire", Flags: []string{"KF_ACQUIRE", "KF_RET_NULL"}, Line: 3},
			{Name: "bpf_x_only", Guard: "CONFIG_X", Line: 5},
		}},
		{Name: "y_ids", File: "net/x.c", Line: 17, Kfuncs: []Entry{
			{Name: "bpf_y_one", Flags: []string{"KF_TRUSTED_ARGS"}, Line: 19},
			{Name: "bpf_y_two", Flags: []string{"KF_TRUSTED_ARGS"}, Line: 19},
		}},
	}
	if !reflect.DeepEqual(f.sets, wantSets) {
		t.Errorf("sets:\n got %+v\nwant %+v", f.sets, wantSets)
	}
	wantIDSets := []IDSet{
		{Name: "x_set", File: "net/x.c", Line: 9, Owner: "THIS_MODULE", Set: "x_ids", Filter: "x_filter"},
		{Name: "y_set", File: "net/x.c", Line: 23, Owner: "THIS_MODULE", Set: "y_ids"},
	}
	if !reflect.DeepEqual(f.idSets, wantIDSets) {
		t.Errorf("id sets:\n got %+v\nwant %+v", f.idSets, wantIDSets)
	}
	wantRegs := []Registration{
		{ProgType: "BPF_PROG_TYPE_XDP", IDSet: "x_set", File: "net/x.c", Line: 27},
		{ProgType: "BPF_PROG_TYPE_CGROUP_SOCK_ADDR", IDSet: "x_set", File: "net/x.c", Line: 30},
		{ProgType: "BPF_PROG_TYPE_UNSPEC", IDSet: "y_set", File: "net/x.c", Line: 33, Guard: "IS_ENABLED(CONFIG_Y)"},
	}
	if !reflect.DeepEqual(f.regs, wantRegs) {
		t.Errorf("registrations:\n got %+v\nwant %+v", f.regs, wantRegs)
	}
}

func TestScanHookSwitch(t *testing.T) {
	src := `
static int bpf_prog_type_to_kfunc_hook(enum bpf_prog_type prog_type)
{
	switch (prog_type) {
	case BPF_PROG_TYPE_UNSPEC:
		return BTF_KFUNC_HOOK_COMMON;
	case BPF_PROG_TYPE_TRACING:
	case BPF_PROG_TYPE_LSM:
		return BTF_KFUNC_HOOK_TRACING;
	default:
		return BTF_KFUNC_HOOK_MAX;
	}
}

int f(void) { return bpf_prog_type_to_kfunc_hook(BPF_PROG_TYPE_XDP); }
`
	f, err := scanString(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Hook{{"BPF_PROG_TYPE_UNSPEC", "BTF_KFUNC_HOOK_COMMON"}, {"BPF_PROG_TYPE_TRACING", "BTF_KFUNC_HOOK_TRACING"}, {"BPF_PROG_TYPE_LSM", "BTF_KFUNC_HOOK_TRACING"}}
	if !reflect.DeepEqual(f.hooks, want) || f.deflt != "BTF_KFUNC_HOOK_MAX" {
		t.Errorf("hooks %+v default %q", f.hooks, f.deflt)
	}
}

// TestScanErrors: forms the scanner recognizes by their first words but cannot read are
// errors, never a quiet gap in the extract.
func TestScanErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"entry outside a set", "BTF_ID_FLAGS(func, f)", "outside a set"},
		{"set without end", "BTF_KFUNCS_START(s)\nBTF_ID_FLAGS(func, f)\n", "has no end"},
		{"end of another set", "BTF_KFUNCS_START(s)\nBTF_KFUNCS_END(t)\n", "closes no open set"},
		{"nested sets", "BTF_KFUNCS_START(s)\nBTF_KFUNCS_START(t)\n", "inside another set"},
		{"entry of another kind", "BTF_KFUNCS_START(s)\nBTF_ID_FLAGS(struct, f)\nBTF_KFUNCS_END(s)\n", "want (func, name"},
		{"word in a set", "BTF_KFUNCS_START(s)\nNOT_A_MACRO\nBTF_KFUNCS_END(s)\n", "neither BTF_ID_FLAGS nor a macro"},
		{"pasting macro", "BTF_KFUNCS_START(s)\n#define P(n) BTF_ID_FLAGS(func, bpf_##n)\nP(x)\nBTF_KFUNCS_END(s)\n", "pastes"},
		{"recursive macro", "BTF_KFUNCS_START(s)\n#define R R\nR\nBTF_KFUNCS_END(s)\n", "macro expansions"},
		{"computed program type", "void f(int t) { register_btf_kfunc_id_set(t, &s); }", "want (BPF_PROG_TYPE_"},
		{"set not by address", "void f(void) { register_btf_kfunc_id_set(BPF_PROG_TYPE_XDP, p); }", "want &name"},
		{"unknown field", "static const struct btf_kfunc_id_set s = { .set = &x, .hook = 1 };", "unknown field hook"},
		{"no set field", "static const struct btf_kfunc_id_set s = { .owner = THIS_MODULE };", "no .set"},
		{"array of id sets", "static const struct btf_kfunc_id_set s[] = { };", "arrays"},
		{"hook switch with code", "static int bpf_prog_type_to_kfunc_hook(enum bpf_prog_type prog_type)\n{ switch (prog_type) { case A: x++; return B; } }", "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scanString(t, tt.src, func(string) (*macro, error) { return nil, nil })
			testenv.WantErr(t, err, tt.want)
		})
	}
}
