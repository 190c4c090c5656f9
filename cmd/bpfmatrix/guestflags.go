package main

import (
	"errors"
	"flag"
	"fmt"
	"os/exec"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/observe"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// guestFlags are the flags of every command that may boot guests (run, verify).
type guestFlags struct {
	kernelsFile, cacheDir string
	offline               bool
	parallel, cpus        *int
	memory                *int
	timeout               *time.Duration
	qemu, accel, channel  *string
	qemuARM64             *string
	tcgThread             *string
	agent                 *string
	retries               *int
	streamDir             *string
	// arch is the --arch flag of the commands that have it (run); nil elsewhere, which
	// observe amd64 kernels.
	arch *string
	// fs tells which flags were given: only the default --kernels-file falls back to the
	// built-in file, and only the default --timeout grows with the programs load loads.
	fs *flag.FlagSet
}

func addGuestFlags(fs *flag.FlagSet) *guestFlags {
	def := harness.DefaultConfig()
	g := &guestFlags{fs: fs}
	fs.StringVar(&g.kernelsFile, "kernels-file", "kernels.yaml", "the kernels file; when not given and there is no kernels.yaml here, the one built into bpfmatrix")
	fs.StringVar(&g.cacheDir, "cache-dir", "", "kernel image and observation cache (default: $XDG_CACHE_HOME/bpfmatrix)")
	fs.BoolVar(&g.offline, "offline", false, "refuse to download kernels that are not cached")
	g.parallel = fs.Int("parallel", def.Parallel, "guests run at the same time")
	g.cpus = fs.Int("cpus", def.CPUs, "vCPUs per guest")
	g.timeout = fs.Duration("timeout", def.Timeout, "time limit per guest (default 20m with --arch arm64)")
	g.memory = fs.Int("memory", def.MemoryMB, "memory per guest in MB")
	g.qemu = fs.String("qemu", def.QEMU, "the qemu-system-x86_64 binary")
	g.qemuARM64 = fs.String("qemu-arm64", def.QEMUARM64, "the qemu-system-aarch64 binary (for --arch arm64)")
	g.accel = fs.String("accel", "", "kvm or tcg (default: kvm when it works)")
	g.tcgThread = fs.String("tcg-thread", def.TCGThread, "TCG threading: single (one host thread per guest) or multi (one per vCPU); default: single when the guests' vCPUs outnumber the cores")
	g.channel = fs.String("channel", def.Channel, "result channel: virtio or serial")
	g.retries = fs.Int("retries", def.Retries, "boot a kernel whose guest failed this many more times")
	g.streamDir = fs.String("stream-dir", "", "also write each guest's raw result stream to DIR/<kernel>.stream, as it crossed the channel (for recording a real guest's output as test data)")
	g.agent = fs.String("agent", "", "static agent binary (default: a guest-agent build in the source tree, else this binary, with its loader and libraries when it is dynamically linked)")
	return g
}

// addArch gives a command that boots guests the --arch flag: the architecture of the kernel
// builds it observes.
func (g *guestFlags) addArch(fs *flag.FlagSet) {
	g.arch = archFlag(fs, "the architecture of the kernel builds to boot: amd64, or arm64 (emulated under TCG on an amd64 host)")
}

// archValue returns the architecture --arch names, amd64 for a command without the flag.
func (g *guestFlags) archValue() (observation.Arch, error) {
	if g.arch == nil {
		return observation.DefaultArch, nil
	}
	return archOf(*g.arch)
}

// config checks the flags and returns the harness configuration they describe. The bounds and
// the accelerator check are the harness's (Config.Check), said here in terms of the flags.
func (g *guestFlags) config() (harness.Config, error) {
	cfg := harness.DefaultConfig()
	cfg.Parallel, cfg.CPUs, cfg.Timeout, cfg.MemoryMB = *g.parallel, *g.cpus, *g.timeout, *g.memory
	cfg.QEMU, cfg.Accel, cfg.Channel, cfg.Retries = *g.qemu, *g.accel, *g.channel, *g.retries
	cfg.QEMUARM64 = *g.qemuARM64
	arch, err := g.archValue()
	if err != nil {
		return cfg, err
	}
	if !g.given("timeout") {
		// An emulated architecture's guests take several times as long.
		cfg.Timeout = harness.DefaultTimeout(arch)
	}
	cfg.TCGThread = *g.tcgThread
	if *g.streamDir != "" {
		if err := files.MakeDir(*g.streamDir); err != nil {
			return cfg, fmt.Errorf("--stream-dir: %w", err)
		}
		cfg.StreamDir = *g.streamDir
	}
	if err := cfg.Check(); err != nil {
		var se *harness.SettingError
		if errors.As(err, &se) {
			return cfg, fmt.Errorf("--%s %s: %s", se.Setting, se.Value, se.Want)
		}
		return cfg, err
	}
	if *g.agent != "" {
		static, err := harness.IsStatic(*g.agent, arch)
		if err != nil {
			return cfg, fmt.Errorf("--agent: %w", err)
		}
		if !static {
			return cfg, fmt.Errorf("--agent %s is dynamically linked; build it with CGO_ENABLED=0", *g.agent)
		}
		cfg.Agent = *g.agent
	}
	return cfg, nil
}

// options is the pipeline's configuration from the guest flags and a --kernels value, with the
// cache directory checked (none found, or a path through a file, is bad setup: exit 2).
func (g *guestFlags) options(kernels string) (observe.Options, error) {
	opts, err := g.guestOptions(kernels)
	if err != nil {
		return opts, err
	}
	if opts.CacheDir, err = vmimages.CheckCacheDir(g.cacheDir); err != nil {
		return observe.Options{}, err
	}
	return opts, nil
}

// given reports whether the flag called name was on the command line.
func (g *guestFlags) given(name string) bool {
	given := false
	g.fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// guestOptions is options without the cache: what judging saved observations needs. Without
// --kernels-file it settles which kernels file the command uses (kernels.yaml here, else the
// built-in one: an installed bpfmatrix works in any directory) and records it in g.kernelsFile,
// which later steps (verify --in) read. A --kernels-file that was given is used as is, so a
// missing one is still an error.
func (g *guestFlags) guestOptions(kernels string) (observe.Options, error) {
	if !g.given("kernels-file") {
		g.kernelsFile = vmimages.DefaultKernelsFile()
	}
	hcfg, err := g.config()
	if err != nil {
		return observe.Options{}, err
	}
	names, err := splitList("kernels", kernels)
	if err != nil {
		return observe.Options{}, err
	}
	arch, err := g.archValue()
	if err != nil {
		return observe.Options{}, err
	}
	opts := observe.Options{
		KernelsFile: g.kernelsFile, Kernels: names, CacheDir: g.cacheDir, Offline: g.offline, Harness: hcfg,
		Arch: arch,
	}
	opts.NeedQEMU = func() error { return lookQEMUFor(opts) }
	return opts, nil
}

// lookQEMU checks that QEMU can be run, naming the package to install when it cannot.
func lookQEMU(qemu string) error {
	if _, err := exec.LookPath(qemu); err != nil {
		return fmt.Errorf("--qemu: %w (install qemu-system-x86)", err)
	}
	return nil
}

// lookQEMUFor checks the QEMU of the architecture opts observes.
func lookQEMUFor(opts observe.Options) error {
	if opts.Arch != observation.ArchARM64 {
		return lookQEMU(opts.Harness.QEMU)
	}
	if _, err := exec.LookPath(opts.Harness.QEMUARM64); err != nil {
		return fmt.Errorf("--qemu-arm64: %w (install qemu-system-arm)", err)
	}
	return nil
}
