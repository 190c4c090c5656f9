package probe

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// cPrototype renders fn as the C declaration of its BTF prototype, the way kernel headers spell
// it: "struct file *bpf_get_task_exe_file(struct task_struct *task)". Names come from BTF, so
// integer types read as the kernel declared them (u64, __u32, long unsigned int); type tags
// such as __user are left out.
func cPrototype(fn *btf.Func) string {
	proto, ok := fn.Type.(*btf.FuncProto)
	if !ok {
		return "void " + fn.Name + "(void)" // not a function: say so in C terms, never panic
	}
	return cDecl(proto, fn.Name)
}

// cDecl returns the C declaration of an object of type t whose declarator so far is inner (a
// name, "*name", "(*name)[4]"...). C declarators read inside out, so each pointer, array or
// function layer wraps inner and the base type comes last.
func cDecl(t btf.Type, inner string) string {
	switch tt := t.(type) {
	case *btf.Pointer:
		return cDecl(tt.Target, "*"+inner)
	case *btf.Const:
		return qualified(tt.Type, "const", inner)
	case *btf.Volatile:
		return qualified(tt.Type, "volatile", inner)
	case *btf.Restrict:
		return qualified(tt.Type, "restrict", inner)
	case *btf.TypeTag:
		return cDecl(tt.Type, inner)
	case *btf.Array:
		return cDecl(tt.Type, parenthesize(inner)+fmt.Sprintf("[%d]", tt.Nelems))
	case *btf.FuncProto:
		return cDecl(tt.Return, parenthesize(inner)+"("+cParams(tt.Params)+")")
	}
	base := cTypeName(t)
	if inner == "" {
		return base
	}
	return base + " " + inner
}

// qualified applies a qualifier to t: before a base type ("const char *s"), after the star of a
// pointer ("char *const s").
func qualified(t btf.Type, qual, inner string) string {
	switch p := t.(type) {
	case *btf.Pointer:
		if inner == "" {
			return cDecl(p.Target, "*"+qual)
		}
		return cDecl(p.Target, "*"+qual+" "+inner)
	case *btf.Array, *btf.FuncProto:
		return cDecl(t, inner) // C cannot qualify these; the element or result carries it
	}
	return qual + " " + cDecl(t, inner)
}

// parenthesize wraps a pointer declarator before an array or parameter list binds to it:
// "(*f)(int)" is a pointer to a function, "*f(int)" a function returning a pointer.
func parenthesize(inner string) string {
	if strings.HasPrefix(inner, "*") {
		return "(" + inner + ")"
	}
	return inner
}

// cParams renders a parameter list; BTF marks a variadic function by a last parameter of type
// void without a name.
func cParams(params []btf.FuncParam) string {
	if len(params) == 0 {
		return "void"
	}
	parts := make([]string, len(params))
	for i, p := range params {
		if _, void := p.Type.(*btf.Void); void && p.Name == "" && i == len(params)-1 {
			parts[i] = "..."
			continue
		}
		parts[i] = cDecl(p.Type, p.Name)
	}
	return strings.Join(parts, ", ")
}

// cTypeName names a type that has no declarator of its own.
func cTypeName(t btf.Type) string {
	switch tt := t.(type) {
	case nil, *btf.Void:
		return "void"
	case *btf.Int:
		return tt.Name
	case *btf.Float:
		return tt.Name
	case *btf.Typedef:
		return tt.Name
	case *btf.Struct:
		return tagged("struct", tt.Name)
	case *btf.Union:
		return tagged("union", tt.Name)
	case *btf.Enum:
		return tagged("enum", tt.Name)
	case *btf.Fwd:
		switch tt.Kind {
		case btf.FwdUnion:
			return tagged("union", tt.Name)
		}
		return tagged("struct", tt.Name)
	}
	return fmt.Sprintf("/* %T */ void", t)
}

// tagged spells a struct, union or enum type, anonymous ones by their kind alone.
func tagged(kind, name string) string {
	if name == "" {
		return kind + " {...}"
	}
	return kind + " " + name
}
