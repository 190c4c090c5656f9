package harness

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// guestMemoryMB is a guest's memory by default: the agent, the kernel's BPF work and the page
// cache of its initramfs fit in it on every kernel of kernels.yaml.
const guestMemoryMB = 1024

// qemuOverheadMB is what a guest costs the host besides its memory (QEMU itself and TCG's
// translation cache), as measured by QEMU's resident size under TCG.
const qemuOverheadMB = 512

// tcgThreading is the TCG threading of a run whose guests run guests at a time on a machine of
// cores cores: the configured one, else "single" (one host thread per guest) when the guests'
// vCPUs outnumber the cores, else "multi" (a host thread per vCPU). With a host thread per vCPU,
// two guests of two vCPUs on two cores spent 27 % more CPU on the same probes (4 kernels: 87.5 s
// against 63.8 s of guest CPU, 45.6 s against 33.8 s of wall time; the same answers), much of it
// in QEMU's translation-block lookups and locks, which one thread per guest does not contend for.
// A guest alone on the machine still gets a thread per vCPU.
func tcgThreading(cfg *Config, guests, cores int) string {
	if cfg.TCGThread != "" {
		return cfg.TCGThread
	}
	if guests*cfg.CPUs > cores {
		return "single"
	}
	return "multi"
}

// parallelFor is the number of guests run at a time on a machine with cores cores and availMB of
// memory available (0 when unknown): one per core, as many as the memory holds.
func parallelFor(cores, availMB int) int {
	par := max(cores, 1)
	if availMB > 0 {
		par = min(par, max(availMB/(guestMemoryMB+qemuOverheadMB), 1))
	}
	return min(par, MaxParallel)
}

// availableMB returns the machine's MemAvailable from /proc/meminfo in MiB, 0 when it cannot tell.
func availableMB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		if err != nil {
			return 0
		}
		return kb / 1024
	}
	return 0
}

// Layout says how cfg runs its guests and what the machine offered, for the run's first line:
// "2 at a time with 2 vCPUs and 1024 MiB each (this machine: 2 cores, 22.9 GiB available)".
func Layout(cfg Config) string {
	machine := fmt.Sprintf("%d cores", runtime.NumCPU())
	if mb := availableMB(); mb > 0 {
		machine += fmt.Sprintf(", %.1f GiB available", float64(mb)/1024)
	}
	threads := "one host thread per vCPU"
	if tcgThreading(&cfg, cfg.Parallel, runtime.NumCPU()) == "single" {
		threads = "one host thread per guest"
	}
	return fmt.Sprintf("%d at a time with %d vCPUs (emulated: %s) and %d MiB each (this machine: %s)", cfg.Parallel, cfg.CPUs, threads, cfg.MemoryMB, machine)
}
