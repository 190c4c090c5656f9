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
	// AttachType is the expected attach type passed, by its enum name ("" for none).
	AttachType string `json:"attach_type,omitempty"`
	// Target is the attach target used: a kernel function, a tracepoint typedef, a struct_ops
	// member ("tcp_congestion_ops.cong_avoid") or the ext target program.
	Target string `json:"target,omitempty"`
	// Sleepable says the variant's programs are loaded with BPF_F_SLEEPABLE.
	Sleepable bool `json:"sleepable,omitempty"`
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
	// ProgTypes says, per program type the probe knows, whether the kernel loads it.
	ProgTypes []ProgTypeInfo `json:"prog_types"`
}
