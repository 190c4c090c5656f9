package observation

// KernelInfo names the probed kernel as the kernel itself tells it.
type KernelInfo struct {
	// Release is the uname release, e.g. "6.12.117+deb13-cloud-amd64".
	Release string `json:"release"`
	// Version is MAJOR.MINOR.PATCH parsed from the release, or "" when it cannot be parsed.
	// Debian's 5.10 and 6.1 kernels report ABI releases whose patch level is not upstream's.
	Version string `json:"version"`
}

// VariantInfo says how one attach variant was loaded on this kernel, or why it could not be.
type VariantInfo struct {
	// Name is the variant's short name, e.g. "connect4" or "lsm.s".
	Name string `json:"name"`
	// Section is the attach point the variant answers for, as the registry keys attach-point
	// facts: registry.AttachPointKey of the libbpf section a user would write for it
	// ("kprobe.session", "iter/tcp", "fentry/dentry_open", "struct_ops/sched_ext_ops" for a
	// kind's sentinel, "struct_ops/sched_ext_ops.enqueue" for one member). A variant loaded as
	// its program type's default attachment carries the bare type ("kprobe", "tracing" for
	// fentry at any function). Empty in documents of agents that predate attach points.
	Section string `json:"section,omitempty"`
	// AttachType is the expected attach type passed, by its enum name ("" for none).
	AttachType string `json:"attach_type,omitempty"`
	// Target is the attach target used: a kernel function, a tracepoint typedef, a struct_ops
	// member ("tcp_congestion_ops.cong_avoid") or the ext target program.
	Target string `json:"target,omitempty"`
	// Sleepable says the variant's programs are loaded with BPF_F_SLEEPABLE.
	Sleepable bool `json:"sleepable,omitempty"`
	// Loads and Seconds are what the probe's run spent loading programs in this variant (all
	// passes, retries included; Seconds is time inside BPF_PROG_LOAD summed over the workers):
	// what each attach point costs. Zero before the run and in documents of older agents.
	Loads   int     `json:"loads,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
	// Usable is false when the kernel refused even a trivial program for the variant; every
	// result of the variant is then Inconclusive with Reason as its detail.
	Usable bool `json:"usable"`
	// Reason says why an unusable variant could not be loaded.
	Reason string `json:"reason,omitempty"`
	// GPLRequired is set when the kernel refuses non-GPL programs of this variant outright
	// (LSM, struct_ops); helpers are then probed with a GPL license only, and GPLReason says
	// what the kernel answered the non-GPL program.
	GPLRequired bool   `json:"gpl_required,omitempty"`
	GPLReason   string `json:"gpl_reason,omitempty"`
	// Releases names the kfunc calls every probe program of the variant ends with, after the
	// probed call, to give back the references its context hands it ("bpf_kfree_skb(skb)" at
	// Qdisc_ops.enqueue, whose skb argument the program must queue or drop); empty elsewhere.
	Releases string `json:"releases,omitempty"`
}

// ProgTypeInfo says whether the kernel has a program type, and how each of its variants fared.
type ProgTypeInfo struct {
	// Name is the kernel's name of the type, lower case without BPF_PROG_TYPE_.
	Name string `json:"name"`
	// Present is true when at least one variant of the type loads.
	Present bool `json:"present"`
	// Reason explains an absent type, e.g. "type absent: ..." for lirc_mode2 on Debian's
	// cloud kernels, which do not build it.
	Reason string `json:"reason,omitempty"`
	// Variants are the type's attach variants, in probe order.
	Variants []VariantInfo `json:"variants"`
}

// Facts are what the probe learned about the kernel besides helper answers.
type Facts struct {
	// Kernel names the running kernel.
	Kernel KernelInfo `json:"kernel"`
	// BTFHelperIDs lists the helper ids in the kernel's BTF enum bpf_func_id (without
	// BPF_FUNC_unspec and __BPF_FUNC_MAX_ID): an independent record of which ids the kernel
	// knows. Empty on a kernel without BTF.
	BTFHelperIDs []int `json:"btf_helper_ids"`
	// BTFHelperMaxID is the kernel's __BPF_FUNC_MAX_ID, one past its last helper id: an id at or
	// past it is not a helper on this kernel, whatever a table says. 0 when unknown.
	BTFHelperMaxID int `json:"btf_helper_max_id,omitempty"`
	// BTFHelpers is the kernel's own definition of each helper: its name in enum bpf_func_id
	// and, for helpers written with the kernel's BPF_CALL_n macros, the wrapper's arguments.
	BTFHelpers []BTFHelper `json:"btf_helpers,omitempty"`
	// Kfuncs are the kernel functions BPF programs may call that this kernel has: those its
	// BTF tags bpf_kfunc (vmlinux first, then module BTF), and on kernels whose BTF predates
	// the tag (5.10, 6.1), the known names from newer kernels that its BTF has as functions.
	Kfuncs []Kfunc `json:"kfuncs,omitempty"`
	// Modules are the kernel modules the agent loaded for their kfuncs (the image's modules
	// that register kfuncs, with their dependencies), in load order, each with the reason
	// when the kernel refused it: a refused module's kfuncs are missing from Kfuncs, and the
	// kernel is not failed for it. Empty when the image gave none.
	Modules []ModuleLoad `json:"modules,omitempty"`
	// KfuncsAbsent are the known kfunc names that are no kfunc on this kernel, decided
	// without a load: its BTF has no function of the name, or (on a kernel whose BTF tags
	// kfuncs) has one without the bpf_kfunc tag, which no kfunc set holds.
	KfuncsAbsent []string `json:"kfuncs_absent,omitempty"`
	// HeldObjects says, per object a kfunc works on and per variant offering such a kfunc,
	// whether a program of the variant may hold the object in a map value: the kernel's
	// check_map_prog_compatibility, asked with one load of a trivial program using the map.
	// A kfunc offered to a variant that may not hold its object is offered with conditions
	// there. Nil in documents of agents that predate the question.
	HeldObjects []HeldObject `json:"held_objects,omitempty"`
	// HelperArgs says, per helper the kernel offers somewhere, what the verifier expects of
	// each argument.
	HelperArgs []HelperArgs `json:"helper_args,omitempty"`
	// StructOps are the struct_ops kinds the kernel's BTF registers (vmlinux's, then those of
	// the modules whose BTF it publishes), each with every function-pointer member a struct_ops
	// program may implement, whether or not the probe loaded a program at it. Sync builds the
	// registry's list of kinds and members from it. Empty on a kernel without BTF, in runs that
	// probed no struct_ops, and in documents of older agents.
	StructOps []StructOpsKind `json:"struct_ops,omitempty"`
	// ProgTypes says, per program type the probe knows, whether the kernel loads it.
	ProgTypes []ProgTypeInfo `json:"prog_types"`
	// Passes says what each pass of the probe's run cost in the kernel; nil before the run
	// (and in documents of older agents).
	Passes *PassStats `json:"passes,omitempty"`
}

// ModuleLoad is one kernel module the agent loaded, or tried to.
type ModuleLoad struct {
	// Name is the module's name (nf_conntrack).
	Name string `json:"name"`
	// Error is why the kernel refused it (finit_module's error); empty when it loaded.
	Error string `json:"error,omitempty"`
}

// PassStats are the loads and wall seconds of a probe run's passes, measured inside the kernel
// probed: the helper pass (with the probe's baseline loads), the argument-kind pass and the
// kfunc pass. Within one guest the passes share the same machine conditions, so their ratio is
// the fair measure of what a pass costs, where wall times of whole runs drift with the host's
// other work.
type PassStats struct {
	HelperLoads   int     `json:"helper_loads"`
	HelperSeconds float64 `json:"helper_seconds"`
	ArgLoads      int     `json:"arg_loads"`
	ArgSeconds    float64 `json:"arg_seconds"`
	KfuncLoads    int     `json:"kfunc_loads"`
	KfuncSeconds  float64 `json:"kfunc_seconds"`
	// Floor is set by a guest asked for the bare-load floor instead of a probe (make bench).
	Floor *FloorStats `json:"floor,omitempty"`
}

// FloorStats is the bare-load floor a kernel measured: Loads loads of `call N; r0 = 0; exit` for
// every program type and helper id, with a verifier log, one at a time, in Seconds.
type FloorStats struct {
	Loads   int     `json:"loads"`
	Seconds float64 `json:"seconds"`
}

// HeldObject is whether programs of one variant may hold one object in a map value.
type HeldObject struct {
	// Object is the kernel struct held: bpf_list_head, bpf_rb_root, bpf_res_spin_lock or
	// bpf_wq (registry.HeldObjectKinds); the map value holds it (a list or rbtree root with
	// the bpf_spin_lock that guards it, and the "contains:" tag naming its node).
	Object string `json:"object"`
	// Variant is the "prog_type/variant" asked.
	Variant string `json:"variant"`
	// Allowed is set when the program loaded: the variant may hold the object.
	Allowed bool `json:"allowed"`
	// Inconclusive is set when the load failed for another reason than the map (the answer is
	// then neither allowed nor refused).
	Inconclusive bool `json:"inconclusive,omitempty"`
	// Detail is the verifier's line that refused the map ("tracing progs cannot use
	// bpf_{list_head,rb_root} yet"), or what made the load inconclusive.
	Detail string `json:"detail,omitempty"`
}

// BTFHelper is one value of the kernel's enum bpf_func_id, with the prototype of the helper's
// BPF_CALL wrapper when the kernel's BTF has one.
type BTFHelper struct {
	// ID is the helper's number.
	ID int `json:"id"`
	// Name is the enum value's name without BPF_FUNC_ (map_lookup_elem).
	Name string `json:"name"`
	// Wrapper is set when the kernel implements the helper through a BPF_CALL_n wrapper, a
	// function bpf_<name> of five u64 parameters: the helper's arguments, then __ur_1 ...
	// for the registers it leaves unused. Args then lists the arguments' names in order.
	Wrapper bool `json:"wrapper,omitempty"`
	// Args are the wrapper's argument names without the unused registers; empty for a helper
	// of no arguments or without a wrapper.
	Args []string `json:"args,omitempty"`
}

// HelperArgs is what the verifier expects of each argument of one helper, learnt by loading the
// helper's call again and again, each time giving the argument it complained about a value of
// the kind it asked for, until it complains about no argument.
type HelperArgs struct {
	// HelperID is the helper's number.
	HelperID int `json:"helper_id"`
	// Variant is the "prog_type/variant" the helper was asked in (one that offers it), with
	// ":<target>" when the pass chose an attach target for a BTF pointer it needed (a
	// function whose arguments include that struct).
	Variant string `json:"variant"`
	// Args holds one entry per argument register the verifier looked at, R1 first; for a
	// complete walk, only the registers the verifier reads (an argument it never reads, left
	// unset, draws no complaint).
	Args []ArgKind `json:"args"`
	// Complete is set when the verifier went past every argument (the program loaded, or its
	// last complaint was not about an argument register): Args is then the whole list.
	Complete bool `json:"complete"`
	// Detail is the verifier's message that ended the walk when the last program did not load:
	// for a list that is not complete, what the probe could not give; for a complete one, the
	// refusal that came after the arguments (an unreleased reference, say).
	Detail string `json:"detail,omitempty"`
}

// ArgKind is what the verifier expects of one argument.
type ArgKind struct {
	// Expected are the verifier's words for what it accepts ("map_ptr"; "fp", "pkt", ...), or
	// "scalar" for an argument it accepted as a plain number, or "size" for a length it refused
	// as 0 (a positive constant is wanted), or "any" for one it reads but accepts whatever it
	// holds (refused unset, accepted as 0 and as a map pointer: the kernel's ARG_ANYTHING).
	Expected []string `json:"expected"`
	// Given says what the probe put in the register to get past it: "scalar" (0), "size" (a
	// small constant), "map" (a hash map) or "map:<type>" (a map of the type the helper
	// wants), "stack" (a pointer to zeroed stack), "ctx", "func" (a callback returning 0),
	// "const_str" (a frozen read-only map value), "percpu_var" (a per-CPU kernel variable),
	// "task" (bpf_get_current_task_btf()), "sk" (skb->sk), "sk_ref" (a referenced socket),
	// "seq_file" (an iterator's), "ctx_arg" (a BTF pointer read from the attach target's
	// arguments in the context), "dynptr" or "ringbuf_dynptr" (an initialised dynptr on the
	// stack), "map_value:<type>" (a value of a map of that type), "ringbuf_mem"
	// (bpf_ringbuf_reserve()), or "null": 0 was accepted, yet the verifier names pointer kinds
	// for the register, so it is a pointer that may be NULL. Empty when the walk stopped at
	// this register before giving it anything.
	Given string `json:"given,omitempty"`
	// BTFType is the kernel struct a BTF pointer argument must point to, when the verifier
	// named it ("R1 is of type task_struct but sock is expected": sock).
	BTFType string `json:"btf_type,omitempty"`
}

// Kfunc is a kernel function BPF programs may call (by BTF id), as the kernel defines it.
type Kfunc struct {
	// Name is the function's name (bpf_get_task_exe_file).
	Name string `json:"name"`
	// Prototype is the function's C prototype from BTF, e.g.
	// "struct file *bpf_get_task_exe_file(struct task_struct *task)".
	Prototype string `json:"prototype"`
	// Module is the kernel module whose BTF defines it; empty for vmlinux.
	Module string `json:"module,omitempty"`
	// Tagged is set when the BTF tags the function bpf_kfunc; a known name probed on a kernel
	// whose BTF predates the tag is not.
	Tagged bool `json:"tagged"`
	// Flags are what the verifier's logs showed of the kfunc's flags, sorted: "acquire" (a
	// reference left unreleased), "release", "trusted_args" (a NULL or untrusted pointer
	// refused), "rcu", "sleepable", "destructive", "device_bound". Absent flags were not
	// shown, which does not mean the kfunc lacks them. A probe fills them in during its run
	// (the guest agent sends its facts again after the run); each result carries its own load's
	// too (Result.Flags), from which Document.CollectKfuncFlags rebuilds them.
	Flags []string `json:"flags,omitempty"`
}

// StructOpsKind is one struct_ops kind a kernel registers, as its BTF declares it.
type StructOpsKind struct {
	// Kind is the kind's struct name (tcp_congestion_ops, sched_ext_ops, Qdisc_ops).
	Kind string `json:"kind"`
	// Module is the module whose BTF declares the kind, "" for vmlinux.
	Module string `json:"module,omitempty"`
	// Members are the kind's function-pointer members in struct order.
	Members []string `json:"members"`
}
