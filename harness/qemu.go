package harness

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/kconfig"
)

// kvmCreateVM is the KVM_CREATE_VM ioctl: _IO(KVMIO, 0x01).
const kvmCreateVM = 0xAE01

// DetectAccel returns "kvm" when this process can create a KVM virtual machine on a CPU that
// shows hardware virtualization, else "tcg". Opening /dev/kvm, even creating a VM, is not
// enough: a sandbox VM may offer the node without the hardware support behind it, and then every
// guest stops with QEMU status "internal-error" at its first instruction (seen on the project's
// build machines).
func DetectAccel() string {
	if kvmUsable() != nil {
		return "tcg"
	}
	return "kvm"
}

// cpuHasVirt reports whether /proc/cpuinfo lists the vmx or svm flag.
func cpuHasVirt() bool {
	f, err := os.Open(cpuinfoPath)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		for _, fl := range strings.Fields(v) {
			if fl == "vmx" || fl == "svm" {
				return true
			}
		}
		return false
	}
	return false
}

// channelFor picks the result channel for k: the configured one, unless that is virtio-serial
// and the kernel's config (nil when unknown: then virtio is trusted) builds the drivers as
// modules that nobody supplied.
func channelFor(cfg *Config, k *Kernel, conf kconfig.Config) string {
	if m, _ := machineFor(k.Arch); !m.secondUART {
		// No second UART: virtio-serial is the only channel there is.
		return wire.ChannelVirtio
	}
	if cfg.Channel != wire.ChannelVirtio || len(k.Modules) > 0 || conf == nil {
		return cfg.Channel
	}
	if conf["CONFIG_VIRTIO_CONSOLE"] == "y" && conf["CONFIG_VIRTIO_PCI"] == "y" {
		return wire.ChannelVirtio
	}
	return wire.ChannelSerial
}

// cmdline is the kernel command line of a guest booted with accel.
func cmdline(cfg *Config, k *Kernel, accel, channel string) string {
	m, _ := machineFor(k.Arch)
	words := []string{
		"console=" + m.console,
		// Reboot at once on a panic; with -no-reboot QEMU then exits instead of hanging.
		"panic=-1",
		"quiet",
		// The bpf LSM is off by default on 5.10..6.x cloud kernels; lsm programs need it.
		"lsm=lockdown,yama,bpf",
		// The crypto API tests every algorithm it registers at boot (7.x: CRYPTO_SELFTESTS);
		// nothing a probe asks goes through it, and under TCG the tests cost about 1.5 s of
		// CPU of every boot.
		"cryptomgr.notests",
		wire.EnvChannel + "=" + channel,
	}
	if accel == "tcg" {
		// High-resolution timers program the emulated timer (amd64's local APIC) for each
		// expiry, and under TCG every programming is a trip into QEMU: with them off (timers
		// expire on the periodic tick) 7.3's bare-load floor took 15.0 s instead of 20.3 s,
		// 6.12's 6.9 s instead of 8.7 s, in the same minutes. Nothing a probe asks depends on
		// them: 11 amd64 kernels and arm64 6.12 and 7.3 answered exactly as before.
		words = append(words, "highres=off")
	}
	if cfg.Compress || channel == wire.ChannelSerial {
		words = append(words, wire.EnvCompress+"=1")
	}
	if len(cfg.ProgTypes) > 0 {
		words = append(words, wire.EnvProgTypes+"="+strings.Join(cfg.ProgTypes, ","))
	}
	if len(cfg.Helpers) > 0 {
		ids := make([]string, len(cfg.Helpers))
		for i, id := range cfg.Helpers {
			ids[i] = strconv.Itoa(id)
		}
		words = append(words, wire.EnvHelpers+"="+strings.Join(ids, ","))
	}
	if len(cfg.Kfuncs) > 0 {
		words = append(words, wire.EnvKfuncs+"="+strings.Join(cfg.Kfuncs, ","))
	}
	if cfg.Exhaustive {
		words = append(words, wire.EnvExhaustive+"=1")
	}
	words = append(words, cfg.Append...)
	words = append(words, k.Append...)
	return strings.Join(words, " ")
}

// Names in a guest's directory, where QEMU runs.
const (
	guestKernel  = "kernel"
	guestInitrd  = "initrd"
	guestResults = "results.sock"
	guestQMP     = "qmp.sock"
)

// qemuArgs is the QEMU command line of a guest, run in the guest's directory. The console
// (the first UART: ttyS0, ttyAMA0 on arm64) is QEMU's stdout; results come on a unix socket that
// QEMU connects to as a client; QMP listens on another socket.
func qemuArgs(cfg *Config, k *Kernel, accel, channel string) []string {
	m, _ := machineFor(k.Arch)
	var args []string
	if m.board != "" {
		args = append(args, "-M", m.board)
	}
	args = append(args,
		"-nodefaults", "-no-user-config", "-display", "none",
		"-no-reboot", "-nic", "none",
		"-accel", accelArg(cfg, accel),
		"-m", strconv.Itoa(cfg.MemoryMB),
		"-smp", strconv.Itoa(cfg.CPUs),
		"-kernel", guestKernel,
		"-initrd", guestInitrd,
		"-append", cmdline(cfg, k, accel, channel),
		"-chardev", "stdio,id=console,signal=off",
		"-serial", "chardev:console",
		"-chardev", "socket,id=results,path="+guestResults,
		"-qmp", "unix:"+guestQMP+",server=on,wait=off",
	)
	switch {
	case accel == "kvm":
		args = append(args, "-cpu", "host")
	case cfg.CPUModel != "":
		args = append(args, "-cpu", cfg.CPUModel)
	case m.tcgCPU != "":
		args = append(args, "-cpu", m.tcgCPU)
	}
	switch channel {
	case wire.ChannelSerial:
		args = append(args, "-serial", "chardev:results")
	default:
		args = append(args,
			"-device", "virtio-serial-pci,id=vser",
			"-device", "virtserialport,bus=vser.0,chardev=results,name="+wire.PortName)
	}
	return args
}

// accelArg is the value of QEMU's -accel option.
func accelArg(cfg *Config, accel string) string {
	if accel == "tcg" && cfg.TCGThread != "" {
		return "tcg,thread=" + cfg.TCGThread
	}
	return accel
}
