// Package harness boots kernels in QEMU guests, runs the probe agent in each as its init process
// and brings back every result, or a clear failure for that kernel.
//
// The host side (this package) builds an initramfs holding a static agent binary, starts one
// qemu-system-x86_64 per amd64 kernel (KVM when /dev/kvm works, else TCG; no network, no disk)
// or one qemu-system-aarch64 -M virt per arm64 kernel (always TCG on an amd64 host), reads
// the results on a channel of their own (package wire), watches the console for panics and oopses,
// and stops a guest that overruns through QMP. The guest side is package guest.
package harness

import (
	"runtime"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// Kernel is one kernel image to boot.
type Kernel struct {
	// Name names the kernel in reports and output files (e.g. "6.12").
	Name string
	// Path is the kernel image (vmlinuz: a bzImage on amd64, an Image on arm64).
	Path string
	// Modules are kernel modules to load before the result channel opens, in load order: the
	// virtio drivers of kernels that build virtio-serial as modules (Debian's 5.10).
	Modules []string
	// KfuncModules are the modules the image ships that register kfuncs, with their
	// dependencies, in load order: the guest loads them after Modules, and a kernel that
	// refuses one just lacks its kfuncs.
	KfuncModules []string
	// Config is the kernel's config file, if known; it tells whether virtio-serial is built in.
	Config string
	// Image identifies the build in the observations (hash, package, versions), and its Arch
	// the machine the kernel boots on (empty: amd64).
	observation.Image
	// Append holds extra kernel command-line words for this kernel only.
	Append []string
	// Timeout overrides Config.Timeout for this kernel when positive.
	Timeout time.Duration
}

// Config controls how guests are run.
type Config struct {
	// QEMU is the qemu-system-x86_64 binary, for amd64 kernels.
	QEMU string
	// QEMUARM64 is the qemu-system-aarch64 binary, for arm64 kernels.
	QEMUARM64 string
	// Agent is a statically linked agent binary (see AgentBinary) built for the architecture of
	// the run's kernels: one run boots kernels of one architecture.
	Agent string
	// MemoryMB is each guest's memory.
	MemoryMB int
	// CPUs is the number of vCPUs per guest.
	CPUs int
	// Parallel is the number of guests that run at the same time.
	Parallel int
	// Timeout bounds each guest from QEMU's start to its exit (DefaultTimeout: longer for an
	// emulated architecture).
	Timeout time.Duration
	// Accel is "kvm" or "tcg"; empty picks KVM when it works.
	Accel string
	// TCGThread is QEMU's TCG threading, "multi" (a host thread per vCPU) or "single" (one
	// thread for all vCPUs); empty chooses (see tcgThreading).
	TCGThread string
	// CPUModel is QEMU's -cpu model for TCG guests; empty leaves QEMU's default for amd64 and
	// "max" for arm64 (virt's default CPU is 32-bit). KVM guests always get the host's CPU.
	CPUModel string
	// Channel is wire.ChannelVirtio or wire.ChannelSerial. arm64 guests (virt has one UART, the
	// console) always use virtio.
	Channel string
	// Compress gzips the result stream (always on for the serial channel).
	Compress bool
	// CompressInitramfs gzips the initramfs.
	CompressInitramfs bool
	// NoPVH boots an amd64 kernel's bzImage as it is, instead of the vmlinux inside it through
	// its PVH entry (see pvhKernel).
	NoPVH bool
	// ProgTypes, Helpers and Kfuncs limit the probe; empty means everything
	// (Kfuncs: []string{wire.NoKfuncs} asks about no kfunc).
	ProgTypes []string
	Helpers   []int
	Kfuncs    []string
	// Exhaustive makes every guest's probe load every pair (wire.EnvExhaustive), not only those
	// its plan says may answer otherwise than their base variant.
	Exhaustive bool
	// Append holds extra kernel command-line words for every guest.
	Append []string
	// LoadPlan, when set, makes the run a load run (`bpfmatrix load`): each guest loads the
	// plan's objects instead of probing, and its answers arrive in Document.Loads. The harness
	// places each object in the guest under wire.ObjectDir and sets its Path there (on a copy:
	// the caller's plan is left as it is). ProgTypes, Helpers and Kfuncs do not apply.
	LoadPlan *wire.LoadPlan
	// LoadObjects are the host files of LoadPlan's objects, one per object, in plan order.
	LoadObjects []string
	// WorkDir holds per-guest temporary directories; empty means the system's temp directory.
	WorkDir string
	// ConsoleTail is the number of console bytes kept for reports.
	ConsoleTail int
	// StreamDir, when set, also receives each guest's raw result stream, as it crossed the
	// channel, in StreamDir/<kernel>.stream: for debugging an agent, and for recording a real
	// guest's output as test data.
	StreamDir string
	// Notice receives the run's own messages (KVM found unusable, say); nil drops them.
	Notice func(string)
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
//
// On a machine with more cores there are as many guests as cores, as far as the memory the
// machine has available holds them (guestMemoryMB each, with QEMU's own share) and never more
// than MaxParallel; Layout says what was chosen and why.
func DefaultConfig() Config {
	par := parallelFor(runtime.NumCPU(), availableMB())
	return Config{
		QEMU:        "qemu-system-x86_64",
		QEMUARM64:   "qemu-system-aarch64",
		MemoryMB:    guestMemoryMB,
		CPUs:        2,
		Parallel:    par,
		Timeout:     DefaultTimeout(observation.ArchAMD64),
		Channel:     wire.ChannelVirtio,
		Compress:    false,
		ConsoleTail: 16 << 10,
		Retries:     1,
	}
}

// Result is what one kernel's guest brought back: its observation document, whose guest block
// is always set.
type Result struct {
	Kernel Kernel
	Doc    observation.Document
}

// Failed returns the result of a kernel that never got to boot (its image could not be fetched,
// the run ended before its turn): failed, with why as the error.
func Failed(k Kernel, why error) *Result {
	return &Result{Kernel: k, Doc: observation.Document{Guest: &observation.Guest{
		Image: k.Image, Status: observation.StatusFailed, Error: why.Error(),
	}}}
}

// OK reports whether the kernel's guest finished cleanly with a complete stream.
func (r *Result) OK() bool { return r.Doc.Guest != nil && r.Doc.Guest.Status == observation.StatusOK }

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
