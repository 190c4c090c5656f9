package probe

import (
	"testing"

	"github.com/cilium/ebpf/btf"
)

func TestCPrototype(t *testing.T) {
	u32 := &btf.Typedef{Name: "u32", Type: &btf.Int{Name: "unsigned int", Size: 4}}
	intT := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Char}
	task := &btf.Struct{Name: "task_struct"}
	file := &btf.Struct{Name: "file"}
	dynptr := &btf.Struct{Name: "bpf_dynptr"}
	ptr := func(t btf.Type) btf.Type { return &btf.Pointer{Target: t} }
	fn := func(name string, ret btf.Type, params ...btf.FuncParam) *btf.Func {
		return &btf.Func{Name: name, Type: &btf.FuncProto{Return: ret, Params: params}}
	}
	tests := []struct {
		fn   *btf.Func
		want string
	}{
		{fn("bpf_get_task_exe_file", ptr(file), btf.FuncParam{Name: "task", Type: ptr(task)}),
			"struct file *bpf_get_task_exe_file(struct task_struct *task)"},
		{fn("bpf_rcu_read_lock", &btf.Void{}), "void bpf_rcu_read_lock(void)"},
		{fn("bpf_strlen", intT, btf.FuncParam{Name: "s__ign", Type: ptr(&btf.Const{Type: char})}),
			"int bpf_strlen(const char *s__ign)"},
		{fn("f", &btf.Void{}, btf.FuncParam{Name: "p", Type: &btf.Const{Type: ptr(char)}}),
			"void f(char *const p)"},
		{fn("f", &btf.Void{}, btf.FuncParam{Name: "pp", Type: ptr(ptr(&btf.Void{}))}),
			"void f(void **pp)"},
		{fn("bpf_dynptr_slice", ptr(&btf.Void{}),
			btf.FuncParam{Name: "p", Type: ptr(&btf.Const{Type: dynptr})},
			btf.FuncParam{Name: "offset", Type: u32}),
			"void *bpf_dynptr_slice(const struct bpf_dynptr *p, u32 offset)"},
		{fn("bpf_wq_set_callback_impl", intT, btf.FuncParam{Name: "callback_fn", Type: ptr(&btf.FuncProto{
			Return: intT, Params: []btf.FuncParam{{Type: ptr(&btf.Void{})}, {Type: intT}}})}),
			"int bpf_wq_set_callback_impl(int (*callback_fn)(void *, int))"},
		{fn("f", &btf.Void{}, btf.FuncParam{Name: "a", Type: ptr(&btf.Array{Type: intT, Nelems: 4})}),
			"void f(int (*a)[4])"},
		{fn("bpf_stream_printk", intT, btf.FuncParam{Name: "fmt", Type: ptr(&btf.Const{Type: char})}, btf.FuncParam{Type: &btf.Void{}}),
			"int bpf_stream_printk(const char *fmt, ...)"},
		{fn("f", &btf.Enum{Name: "tcp_ca_event"}, btf.FuncParam{Name: "u", Type: &btf.Union{Name: "bpf_attr"}},
			btf.FuncParam{Name: "v", Type: &btf.Volatile{Type: intT}}, btf.FuncParam{Name: "s", Type: ptr(&btf.Struct{})},
			btf.FuncParam{Name: "fw", Type: ptr(&btf.Fwd{Name: "sock", Kind: btf.FwdStruct})},
			btf.FuncParam{Name: "tt", Type: ptr(&btf.TypeTag{Value: "user", Type: char})}),
			"enum tcp_ca_event f(union bpf_attr u, volatile int v, struct {...} *s, struct sock *fw, char *tt)"},
		{&btf.Func{Name: "broken", Type: intT}, "void broken(void)"},
	}
	for _, tt := range tests {
		if got := cPrototype(tt.fn); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}
