package observation

// Status values of a guest.
const (
	// StatusOK: the guest delivered a complete result stream.
	StatusOK = "ok"
	// StatusFailed: the kernel could not be fetched, did not boot, crashed, hung or cut its
	// stream; whatever it sent is kept but is no evidence.
	StatusFailed = "failed"
)

// Image identifies the kernel build a guest booted; it comes from the image cache (or
// kernels.lock), not from the guest.
type Image struct {
	// SHA256 is the hash of the kernel image file.
	SHA256 string `json:"image_sha256"`
	// Package is the Debian package the image came from; empty for a local image.
	Package string `json:"package"`
	// Version is the upstream kernel version (6.12.117).
	Version string `json:"version"`
	// DebianVersion is the Debian package version (6.12.117-1); empty for a local image.
	DebianVersion string `json:"debian_version,omitempty"`
	// Arch is the architecture the kernel is built for; empty (omitted) means amd64, so the
	// amd64 documents written before the field existed read as they did and are written back
	// byte for byte.
	Arch Arch `json:"arch,omitempty"`
}

// Guest describes how a kernel's guest ran; it is the "guest" member of a kernel's document.
type Guest struct {
	// BootSeconds is the time from QEMU's start to the agent's first line.
	BootSeconds float64 `json:"boot_seconds"`
	// KernelSeconds is the guest's own uptime when the agent started: the part of BootSeconds
	// the kernel spent booting (the rest is QEMU, firmware and decompressing the image).
	KernelSeconds float64 `json:"kernel_seconds"`
	// ProbeSeconds is the time from the agent's first line to the end of its stream.
	ProbeSeconds float64 `json:"probe_seconds"`
	// CPUSeconds is the CPU time QEMU used (user and system, every thread), from its start
	// to its exit: unlike the wall times it hardly changes when other work shares the host, so
	// it is the figure to compare runs by on a busy machine. 0 when QEMU did not exit.
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	// Accel is the QEMU accelerator the guest ran under, "kvm" or "tcg".
	Accel string `json:"accel"`
	Image
	// Status is StatusOK or StatusFailed.
	Status string `json:"status"`
	// Error says why a failed kernel failed.
	Error string `json:"error"`
	// ConsoleTail is the end of the guest's console.
	ConsoleTail string `json:"console_tail"`
	// Release is the guest kernel's uname release, as the agent saw it.
	Release string `json:"release,omitempty"`
	// Channel, CPUs and MemoryMB record how the guest was run.
	Channel  string `json:"channel"`
	CPUs     int    `json:"cpus"`
	MemoryMB int    `json:"memory_mb"`
	// KernelConfig lists the build options set (=y or =m) in the kernel's config, when the
	// image came with one: a refusal on a kernel built without an option a helper needs is no
	// evidence against the registry. Absent when the config is unknown.
	KernelConfig []string `json:"kernel_config,omitempty"`
	// StreamBytes is the size of the result stream as it crossed the channel.
	StreamBytes int64 `json:"stream_bytes"`
	// Interrupted is set when the run was cancelled while this guest ran.
	Interrupted bool `json:"interrupted,omitempty"`
	// FailedAttempts records the earlier boots of this kernel that failed before the one
	// described above, oldest first: a kernel that crashed once and then answered is flaky.
	FailedAttempts []FailedAttempt `json:"failed_attempts,omitempty"`
}

// FailedAttempt is one failed boot of a kernel that was booted again.
type FailedAttempt struct {
	// Error says why the attempt failed.
	Error string `json:"error"`
	// ConsoleTail is the end of that attempt's console.
	ConsoleTail string `json:"console_tail"`
}
