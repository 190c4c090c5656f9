package objverdict

import (
	"fmt"

	"github.com/bpfmatrix/bpfmatrix/bpfobj"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// progTypeSince holds the first release of the program types that arrived after 5.4, the oldest
// series a kernels file is expected to name; older types are taken as present. The registries
// record when functions reach a type, not when the type itself arrived, so the static answer
// keeps these few facts here (from the kernels' include/uapi/linux/bpf.h history).
var progTypeSince = map[string]string{
	"tracing":    "5.5",
	"struct_ops": "5.6",
	"ext":        "5.6",
	"lsm":        "5.7",
	"sk_lookup":  "5.9",
	"syscall":    "5.14",
	"netfilter":  "6.4",
}

// attachTypeSince holds the first release of the expected attach types, named as section does,
// that arrived after 5.4 and that libbpf does not fall back from when the kernel lacks them.
var attachTypeSince = map[string]string{
	"BPF_TRACE_ITER":              "5.8",
	"BPF_LSM_CGROUP":              "6.0",
	"BPF_TRACE_KPROBE_MULTI":      "5.18",
	"BPF_TCX_INGRESS":             "6.6",
	"BPF_TCX_EGRESS":              "6.6",
	"BPF_NETKIT_PRIMARY":          "6.7",
	"BPF_NETKIT_PEER":             "6.7",
	"BPF_TRACE_KPROBE_SESSION":    "6.10",
	"BPF_CGROUP_UNIX_CONNECT":     "6.7",
	"BPF_CGROUP_UNIX_SENDMSG":     "6.7",
	"BPF_CGROUP_UNIX_RECVMSG":     "6.7",
	"BPF_CGROUP_UNIX_GETPEERNAME": "6.7",
	"BPF_CGROUP_UNIX_GETSOCKNAME": "6.7",
}

// progTypeProblem says when the kernel is older than the program's type or attach type, or
// when the section names no program type at all.
func progTypeProblem(q question) (problem, bool) {
	p := q.prog
	if p.ProgType == "" {
		// The loader cannot tell the kernel what to load: no kernel is asked, as when booted.
		s := fmt.Sprintf("section %q names no program type: %s", p.Section, p.SectionError)
		return problem{observation.CauseLoader, s, s, nil}, true
	}
	if since, ok := progTypeSince[p.ProgType]; ok && q.version.Less(registry.MustParseVersion(since)) {
		s := fmt.Sprintf("%s programs arrived in %s; %s does not have them", p.ProgType, since, q.kernel)
		return problem{observation.CauseProgType, s, s, []string{p.ProgType}}, true
	}
	if since, ok := attachTypeSince[p.AttachType]; ok && q.version.Less(registry.MustParseVersion(since)) {
		s := fmt.Sprintf("attach type %s (section %s) arrived in %s; %s does not have it", p.AttachType, p.Section, since, q.kernel)
		return problem{observation.CauseProgType, s, s, []string{p.AttachType}}, true
	}
	return problem{}, false
}

// Static answers whether kernel (its name in kernels.yaml; version its release or series) takes
// prog, from the ELF and the registries alone. The first problem a load would meet decides the
// cause; the reason names the function in short, the explanation gives the registry's sentence
// and any further problems. What only a kernel settles (maps, CO-RE relocations, attach targets,
// the verifier's walk) is not answered: the program is then answered as loaded. The caller sets
// Object.
func Static(prog bpfobj.Program, kernel, version string, helpers *registry.Registry, kfuncs *registry.Kfuncs) Answer {
	a := base("", prog, Kernel{Name: kernel, Version: version})
	a.Static = true
	v, err := registry.ParseVersion(version)
	if err != nil {
		if v, err = registry.ParseVersion(kernel); err != nil {
			a.Cause = observation.CauseUnknown
			a.Reason = fmt.Sprintf("no release known for kernel %s (version %q): the registries cannot be asked", kernel, version)
			return a
		}
	}
	ps := Registries{helpers, kfuncs}.problems(question{prog: prog, where: where(prog), kernel: kernel, version: v})
	if len(ps) == 0 {
		a.Loaded = true
		return a
	}
	a.Cause, a.Reason, a.Explanation = ps[0].cause, ps[0].short, ps[0].detail
	if a.Explanation == a.Reason {
		a.Explanation = ""
	}
	for _, p := range ps[1:] {
		if a.Explanation != "" {
			a.Explanation += "; "
		}
		a.Explanation += "also " + p.short
	}
	return a
}

// StaticObject answers every program of obj on every kernel, programs in the object's order and
// kernels in the order given; object names the object in the answers. An object cilium/ebpf's
// loader refuses has every program answered `loader` with the loader's words, as a booted
// kernel would.
func StaticObject(obj *bpfobj.Object, object string, kernels []Kernel, regs Registries) []Answer {
	var out []Answer
	for _, prog := range obj.Programs {
		for _, k := range kernels {
			var a Answer
			if obj.LoaderError != "" {
				a = base(object, prog, k)
				a.Static, a.Cause, a.Reason = true, observation.CauseLoader, obj.LoaderError
			} else {
				a = Static(prog, k.Name, k.Version, regs.Helpers, regs.Kfuncs)
				a.Object = object
			}
			out = append(out, a)
		}
	}
	return out
}

// where is what the registries are asked about the program's place: its section, which carries
// the attach point ("" when it names no program type; the program type problem then answers).
func where(prog bpfobj.Program) string {
	if prog.ProgType == "" {
		return ""
	}
	return prog.Section
}
