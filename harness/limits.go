package harness

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
)

// The bounds of a Config's numbers. They are far above any use (a machine with 64 free cores, a
// guest of 64 GiB, a day per kernel) and far below what breaks the host: `--parallel 9999999999`
// once started that many workers and ran into the OOM killer.
const (
	MaxParallel = 64
	MaxCPUs     = 64
	MinMemoryMB = 128
	MaxMemoryMB = 64 << 10
	MaxTimeout  = 24 * time.Hour
	MaxRetries  = 10
)

// SettingError is a Config setting out of its bounds. Setting is named as the command-line flag
// that sets it (parallel, memory), so that commands can name the flag.
type SettingError struct {
	Setting string // parallel, cpus, memory, timeout, retries, tcg-thread, accel, channel
	Value   string
	Want    string // what is allowed, or why the value cannot be used
}

// Error says which setting, its value and what is allowed.
func (e *SettingError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Setting, e.Value, e.Want)
}

func intRange(setting string, v, lo, hi int, unit string) error {
	if v >= lo && v <= hi {
		return nil
	}
	return &SettingError{Setting: setting, Value: strconv.Itoa(v), Want: fmt.Sprintf("must be %d to %d%s", lo, hi, unit)}
}

// Check reports the first setting of cfg that is out of bounds or cannot be used on this machine
// (an accelerator it lacks) as a *SettingError; Run checks it too. Commands call it when they
// parse their flags, so that a bad value stops them before anything is fetched or booted.
func (cfg *Config) Check() error {
	checks := []func() error{
		func() error { return intRange("parallel", cfg.Parallel, 1, MaxParallel, "") },
		func() error { return intRange("cpus", cfg.CPUs, 1, MaxCPUs, "") },
		func() error { return intRange("memory", cfg.MemoryMB, MinMemoryMB, MaxMemoryMB, " MB") },
		func() error { return intRange("retries", cfg.Retries, 0, MaxRetries, "") },
		func() error {
			if cfg.Timeout <= 0 || cfg.Timeout > MaxTimeout {
				return &SettingError{Setting: "timeout", Value: cfg.Timeout.String(), Want: "must be positive and at most " + MaxTimeout.String()}
			}
			return nil
		},
		func() error {
			if cfg.TCGThread != "" && cfg.TCGThread != "single" && cfg.TCGThread != "multi" {
				return &SettingError{Setting: "tcg-thread", Value: strconv.Quote(cfg.TCGThread), Want: "single or multi"}
			}
			return nil
		},
		func() error {
			if cfg.Channel != wire.ChannelVirtio && cfg.Channel != wire.ChannelSerial {
				return &SettingError{Setting: "channel", Value: strconv.Quote(cfg.Channel), Want: "virtio or serial"}
			}
			return nil
		},
		func() error { return CheckAccel(cfg.Accel) },
	}
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

// Where the accelerator checks look; tests point them at files of their own.
var (
	cpuinfoPath = "/proc/cpuinfo"
	kvmPath     = "/dev/kvm"
)

// CheckAccel reports whether the accelerator accel ("kvm", "tcg", or "" for the best one) can be
// used here, and if not why, as a *SettingError. QEMU told to use KVM where it cannot either
// fails at once or, in a sandbox VM that offers /dev/kvm without the hardware behind it, leaves
// every guest stopped until its timeout.
func CheckAccel(accel string) error {
	switch accel {
	case "", "tcg":
		return nil
	case "kvm":
		if err := kvmUsable(); err != nil {
			return &SettingError{Setting: "accel", Value: accel, Want: err.Error() + ": use --accel tcg, or leave --accel out to pick the best one"}
		}
		return nil
	}
	return &SettingError{Setting: "accel", Value: strconv.Quote(accel), Want: "kvm or tcg"}
}

// kvmUsable says why this process cannot run KVM guests, or nil when it can: the CPU must show
// hardware virtualization, and /dev/kvm must open and create a virtual machine.
func kvmUsable() error {
	if !cpuHasVirt() {
		return fmt.Errorf("this CPU shows no hardware virtualization (no vmx or svm flag in %s)", cpuinfoPath)
	}
	f, err := os.OpenFile(kvmPath, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("KVM is not available: %w", err)
	}
	defer f.Close()
	vm, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), kvmCreateVM, 0)
	if errno != 0 {
		return fmt.Errorf("%s cannot create a virtual machine: %w", kvmPath, errno)
	}
	unix.Close(int(vm))
	return nil
}
