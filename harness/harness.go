// Package harness boots kernels in QEMU guests, runs the probe agent in each as its init process
// and brings back every result, or a clear failure for that kernel.
//
// The host side (this package) builds an initramfs holding a static agent binary, starts one
// qemu-system-x86_64 per kernel (KVM when /dev/kvm works, else TCG; no network, no disk), reads
// the results on a channel of their own (package wire), watches the console for panics and oopses,
// and stops a guest that overruns through QMP. The guest side is package guest.
package harness

import (
	"encoding/json"
	"fmt"
	"runtime"
	"time"
)

// Kernel is one kernel image to boot.
type Kernel struct {
	// Name names the kernel in reports and output files (e.g. "6.12").
	Name string
	// Path is the kernel image (vmlinuz, bzImage).
	Path string
	// Modules are kernel modules to load before the result channel opens, in load order: the
	// virtio drivers of kernels that build virtio-serial as modules (Debian's 5.10).
	Modules []string
	// Config is the kernel's config file, if known; it tells whether virtio-serial is built in.
	Config string
	// SHA256, Package and Version identify the image in reports.
	SHA256, Package, Version string
	// Append holds extra kernel command-line words for this kernel only.
	Append []string
	// Timeout overrides Config.Timeout for this kernel when positive.
	Timeout time.Duration
}

// Channel names a result channel.
const (
	// ChannelVirtio is a virtio-serial port: fast, built into 6.x cloud kernels, modules on 5.10.
	ChannelVirtio = "virtio"
	// ChannelSerial is the guest's second UART (ttyS1): slow (about 100 KB/s under TCG) but
	// present in every kernel; its stream is always compressed.
	ChannelSerial = "serial"
)

// Config controls how guests are run.
type Config struct {
	// QEMU is the qemu-system-x86_64 binary.
	QEMU string
	// Agent is a statically linked agent binary (see AgentBinary).
	Agent string
	// MemoryMB is each guest's memory.
	MemoryMB int
	// CPUs is the number of vCPUs per guest.
	CPUs int
	// Parallel is the number of guests that run at the same time.
	Parallel int
	// Timeout bounds each guest from QEMU's start to its exit.
	Timeout time.Duration
	// Accel is "kvm" or "tcg"; empty picks KVM when it works.
	Accel string
	// Channel is ChannelVirtio or ChannelSerial.
	Channel string
	// Compress gzips the result stream (always on for the serial channel).
	Compress bool
	// CompressInitramfs gzips the initramfs.
	CompressInitramfs bool
	// ProgTypes and Helpers limit the probe; empty means everything.
	ProgTypes []string
	Helpers   []int
	// Append holds extra kernel command-line words for every guest.
	Append []string
	// WorkDir holds per-guest temporary directories; empty means the system's temp directory.
	WorkDir string
	// ConsoleTail is the number of console bytes kept for reports.
	ConsoleTail int
	// Retries is how many more times a kernel whose guest failed is booted. Kernels under TCG
	// have crashed once in a while for no reason a second boot reproduced (a double fault in
	// 6.17's kmalloc, once in ten full runs); a retry tells such a flake from a kernel that always
	// fails, and the report keeps every failed attempt.
	Retries int
}

// DefaultConfig returns the settings measured to be fastest on the host (BenchmarkLayouts,
// BPFMATRIX_BENCH_COMPARE=1). Under TCG on a 2-core host, the 11 Debian kernels took 79 s as two
// guests with one vCPU each, 74 s as one guest with two vCPUs, 75 s as three one-vCPU guests and
// 64 s as two guests with two vCPUs each: the agent probes with one worker per vCPU, a second
// vCPU also takes the kernel's own deferred work (RCU, freeing programs) off the probing one, and
// a second guest fills the cores while the first boots. So: as many guests as host cores, two
// vCPUs each.
func DefaultConfig() Config {
	par := runtime.NumCPU()
	if par < 1 {
		par = 1
	}
	return Config{
		QEMU:        "qemu-system-x86_64",
		MemoryMB:    1024,
		CPUs:        2,
		Parallel:    par,
		Timeout:     5 * time.Minute,
		Channel:     ChannelVirtio,
		Compress:    false,
		ConsoleTail: 16 << 10,
		Retries:     1,
	}
}

// Status values of a guest.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
)

// Guest describes how a kernel's guest ran; it is the "guest" member of a kernel's report.
type Guest struct {
	// BootSeconds is the time from QEMU's start to the agent's first line.
	BootSeconds float64 `json:"boot_seconds"`
	// KernelSeconds is the guest's own uptime when the agent started: the part of BootSeconds
	// the kernel spent booting (the rest is QEMU, firmware and decompressing the image).
	KernelSeconds float64 `json:"kernel_seconds"`
	// ProbeSeconds is the time from the agent's first line to the end of its stream.
	ProbeSeconds float64 `json:"probe_seconds"`
	Accel        string  `json:"accel"`
	ImageSHA256  string  `json:"image_sha256"`
	Package      string  `json:"package"`
	Version      string  `json:"version"`
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
	// described above (see Config.Retries), oldest first.
	FailedAttempts []FailedAttempt `json:"failed_attempts,omitempty"`
}

// FailedAttempt is one failed boot of a kernel that was booted again.
type FailedAttempt struct {
	Error       string `json:"error"`
	ConsoleTail string `json:"console_tail"`
}

// Result is what one kernel's guest brought back.
type Result struct {
	Kernel Kernel
	// Header is the probe's facts object (kernel, btf_helper_ids, prog_types), nil when the
	// agent never sent it.
	Header json.RawMessage
	// Results holds one JSON object per (helper, variant), as the probe wrote them.
	Results []json.RawMessage
	Guest   Guest
}

// Failed returns the result of a kernel that never got to boot (its image could not be fetched,
// the run ended before its turn): failed, with why as the error.
func Failed(name string, why error) *Result {
	return &Result{Kernel: Kernel{Name: name}, Guest: Guest{Status: StatusFailed, Error: why.Error()}}
}

// OK reports whether the kernel's guest finished cleanly with a complete stream.
func (r *Result) OK() bool { return r.Guest.Status == StatusOK }

// MarshalJSON writes the kernel's report: the probe's facts, "results" and "guest".
func (r *Result) MarshalJSON() ([]byte, error) {
	obj := map[string]json.RawMessage{}
	if len(r.Header) > 0 {
		if err := json.Unmarshal(r.Header, &obj); err != nil {
			return nil, fmt.Errorf("report %s: header: %w", r.Kernel.Name, err)
		}
	}
	results := r.Results
	if results == nil {
		results = []json.RawMessage{}
	}
	var err error
	if obj["results"], err = json.Marshal(results); err != nil {
		return nil, fmt.Errorf("report %s: %w", r.Kernel.Name, err)
	}
	if obj["guest"], err = json.Marshal(&r.Guest); err != nil {
		return nil, fmt.Errorf("report %s: %w", r.Kernel.Name, err)
	}
	return json.Marshal(obj)
}

// Event reports a guest's progress.
type Event struct {
	Kernel string
	// Phase is "boot" (QEMU started), "probe" (the agent is running; Results counts what
	// arrived so far), "retry" (the guest failed and the kernel is booted again; Result holds
	// the failure) or "done" (Result is set).
	Phase   string
	Results int
	// Elapsed is the time since the guest's QEMU started.
	Elapsed time.Duration
	Result  *Result
}
