package harness

import (
	"debug/elf"
	"fmt"
	"runtime"
	"time"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// machine is what differs between the guests of two architectures: the QEMU binary and board,
// the console's device name, the CPU model under TCG and the ELF machine of the agent that runs
// as their /init. Everything else (initramfs, channel protocol, failure detection, retries,
// timeouts) is the same for every architecture.
type machine struct {
	arch observation.Arch
	// board is QEMU's -M option; empty leaves QEMU's default (pc on x86).
	board string
	// console is the kernel's name of the first UART, which QEMU's -serial connects to stdout.
	console string
	// tcgCPU is the -cpu model under TCG when Config.CPUModel says nothing; empty leaves
	// QEMU's default.
	tcgCPU string
	// secondUART tells whether a second -serial gives the guest a second UART (ttyS1) for the
	// serial result channel; virt (arm64) has one PL011 only, so its results always go over
	// virtio-serial (virtio_console and virtio_pci are built into Debian's arm64 cloud kernels).
	secondUART bool
	// elf is the ELF machine of binaries that run in the guest.
	elf elf.Machine
	// timeout is the default time limit of one guest (Config.Timeout).
	timeout time.Duration
}

var (
	machineAMD64 = machine{arch: observation.ArchAMD64, console: "ttyS0", secondUART: true, elf: elf.EM_X86_64,
		timeout: 5 * time.Minute}
	// virt is the board for arm64 guests: it has PCI (for virtio-serial-pci) and a PL011 UART
	// (ttyAMA0). QEMU's default CPU for virt is a Cortex-A15, a 32-bit core that cannot run an
	// arm64 kernel; "max" enables every feature TCG emulates, as a real server core would have
	// the ones the BPF JIT looks for (LSE atomics among them). Emulated, a full probe of 6.12
	// took 289 s from QEMU's start on the 2-core build machine under load (2026-12-06, every
	// pair loaded: the probe's plan names amd64 releases only), against 44 s for amd64 6.12 in
	// the same hour, hence four times amd64's time limit.
	machineARM64 = machine{arch: observation.ArchARM64, board: "virt", console: "ttyAMA0", tcgCPU: "max", elf: elf.EM_AARCH64,
		timeout: 20 * time.Minute}
)

// machineFor returns the machine of arch; empty is amd64, as in observation.Image.
func machineFor(arch observation.Arch) (machine, error) {
	switch arch {
	case observation.ArchAMD64, "":
		return machineAMD64, nil
	case observation.ArchARM64:
		return machineARM64, nil
	}
	return machine{}, fmt.Errorf("kernel architecture %q: no QEMU machine for it", arch)
}

// DefaultTimeout returns the default time limit of one guest of arch (Config.Timeout): amd64's
// for an unknown word.
func DefaultTimeout(arch observation.Arch) time.Duration {
	m, err := machineFor(arch)
	if err != nil {
		return machineAMD64.timeout
	}
	return m.timeout
}

// qemu returns the QEMU binary for the machine's guests.
func (m machine) qemu(cfg *Config) string {
	if m.arch == observation.ArchARM64 {
		return cfg.QEMUARM64
	}
	return cfg.QEMU
}

// canKVM reports whether KVM may run the machine's guests: only a host of the same
// architecture can; an arm64 guest on an amd64 host is always emulated (TCG).
func (m machine) canKVM() bool { return m.arch == HostArch() }

// HostArch returns the architecture of this machine (of this process), or "" when bpfmatrix
// boots no guests of it.
func HostArch() observation.Arch {
	switch runtime.GOARCH {
	case "amd64":
		return observation.ArchAMD64
	case "arm64":
		return observation.ArchARM64
	}
	return ""
}

// runArch returns the one architecture of kernels: a run's guests share one initramfs, whose
// /init is an agent built for one architecture.
func runArch(kernels []Kernel) (observation.Arch, error) {
	arch := kernels[0].Arch
	if arch == "" {
		arch = observation.DefaultArch
	}
	for _, k := range kernels[1:] {
		a := k.Arch
		if a == "" {
			a = observation.DefaultArch
		}
		if a != arch {
			return "", fmt.Errorf("harness: kernels of two architectures in one run (%s is %s, %s is %s): run each architecture on its own",
				kernels[0].Name, arch, k.Name, a)
		}
	}
	if _, err := machineFor(arch); err != nil {
		return "", fmt.Errorf("harness: kernel %s: %w", kernels[0].Name, err)
	}
	return arch, nil
}
