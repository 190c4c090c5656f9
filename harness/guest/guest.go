// Package guest is the side of the harness that runs inside a QEMU guest as its init process
// (PID 1): it mounts the pseudo file systems a probe needs, re-executes itself so that package
// initialisers see them, opens the result channel, runs the probe, streams the results in the
// wire format and powers the guest off.
//
// The host configures the agent through the kernel command line: words of the form KEY=VALUE
// reach init as environment variables (see the Env* constants of package wire).
package guest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/hostkernel"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// envStage marks the re-executed agent.
const envStage = "BPFMATRIX_AGENT_STAGE"

// Options is what the host asked for on the command line.
type Options struct {
	ProgTypes []string
	Helpers   []int
	// Kfuncs limits the kfunc pass to these names (wire.NoKfuncs: none).
	Kfuncs []string
	// Exhaustive loads every pair, plan or not (wire.EnvExhaustive).
	Exhaustive bool
	// Log receives progress lines; it is the console, so keep it short.
	Log io.Writer
	// Modules are the kfunc modules loaded before the probe, with the kernel's refusals.
	Modules []observation.ModuleLoad
}

// Probe runs the probe engine: it calls header with the facts about the kernel, then result once
// per result, and header again with the facts learnt during the run (which replace the first).
type Probe func(ctx context.Context, opts Options, header func(any) error, result func(any) error) error

// IsInit reports whether this process is a bpfmatrix guest's init: PID 1 started as /init, which
// is how the kernel runs an initramfs's init. The command's main checks it before its normal
// dispatch. Both conditions must hold, so that bpfmatrix as the entry point of a container
// (PID 1 under another name) stays an ordinary command and never powers anything off.
func IsInit() bool {
	return os.Getpid() == 1 && len(os.Args) > 0 && os.Args[0] == "/init"
}

// Main is the guest's init. It never returns: it powers the guest off, or, if it cannot, exits,
// which panics the kernel (the host then reports the console).
func Main(p Probe) {
	if os.Getenv(envStage) == "" {
		if err := stage1(); err != nil {
			fatal(err)
		}
	}
	if err := stage2(p); err != nil {
		fatal(err)
	}
	powerOff()
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "bpfmatrix agent: %v\n", err)
	powerOff()
}

func powerOff() {
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Fprintf(os.Stderr, "bpfmatrix agent: power off: %v\n", err)
	}
	os.Exit(1)
}

// stage1 mounts the file systems and re-executes the binary: cilium/ebpf's rlimit package does a
// BPF syscall in an init function, before main, and caches what it finds without /proc and /sys.
func stage1() error {
	mounts := []struct{ src, dst, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		// devtmpfs gives us /dev/ttyS1 and the virtio ports without knowing their numbers.
		{"devtmpfs", "/dev", "devtmpfs"},
	}
	for _, m := range mounts {
		if err := unix.Mount(m.src, m.dst, m.fstype, 0, ""); err != nil && err != unix.EBUSY {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	// Tracing types look at tracefs only on some kernels; a missing tracefs is not fatal.
	_ = unix.Mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, "")
	// Before 5.11 BPF memory counts against RLIMIT_MEMLOCK, and init's default is small.
	inf := &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, inf); err != nil {
		return fmt.Errorf("setrlimit memlock: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		exe = "/init"
	}
	// os.Environ holds the KEY=VALUE words of the kernel command line; they must survive.
	// Stage 2 runs without the Go runtime's asynchronous preemption: it preempts with
	// signals, which on an emulated CPU come often (goroutines run long between calls), each
	// a kernel round trip, and one landing during BPF_PROG_LOAD makes the kernel give up the
	// load (EAGAIN), to be made again. The agent's goroutines call functions often enough to
	// be preempted without them. A GODEBUG on the kernel command line is kept instead.
	env := append(os.Environ(), envStage+"=2")
	if os.Getenv("GODEBUG") == "" {
		env = append(env, "GODEBUG=asyncpreemptoff=1")
	}
	if err := syscall.Exec(exe, os.Args, env); err != nil {
		return fmt.Errorf("re-exec %s: %w", exe, err)
	}
	return nil
}

func stage2(p Probe) error {
	hello := wire.Hello{Uptime: uptime(), Kernel: release()}
	if err := loadModules(); err != nil {
		return err
	}
	kfuncModules := loadKfuncModules()
	ch, err := openChannel(os.Getenv(wire.EnvChannel))
	if err != nil {
		return err
	}
	w := wire.NewWriter(ch, os.Getenv(wire.EnvCompress) == "1")
	if err := w.Hello(hello); err != nil {
		return err
	}
	opts, err := options()
	if err != nil {
		w.Error(err.Error())
		w.Close()
		return ch.Close()
	}
	opts.Modules = kfuncModules
	fault := os.Getenv(wire.EnvFault)
	headers := 0
	header := func(v any) error {
		if err := w.Header(v); err != nil {
			return err
		}
		if headers++; headers > 1 {
			return nil
		}
		switch fault {
		case "hang":
			fmt.Fprintln(os.Stderr, "bpfmatrix agent: fault injection: hanging")
			// Not select{}: the Go runtime would see a deadlock and exit, which panics the
			// kernel instead of hanging.
			for {
				time.Sleep(time.Hour)
			}
		case "panic":
			panic("bpfmatrix agent: fault injection: panic")
		}
		return nil
	}
	errCut := fmt.Errorf("fault injection: stream cut")
	result := func(v any) error {
		if fault == "truncate" && w.Count() == wire.TruncateAfter {
			return errCut
		}
		return w.Result(v)
	}
	err = p(context.Background(), opts, header, result)
	if errors.Is(err, errCut) {
		fmt.Fprintln(os.Stderr, "bpfmatrix agent: fault injection: cutting the stream")
		if err := w.Flush(); err != nil {
			return err
		}
		return ch.drainAndClose()
	}
	if err != nil {
		w.Error(err.Error())
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := ch.awaitAck(); err != nil {
		return err
	}
	return ch.Close()
}

func options() (Options, error) {
	opts := Options{Log: os.Stderr}
	if s := os.Getenv(wire.EnvProgTypes); s != "" {
		opts.ProgTypes = strings.Split(s, ",")
	}
	if s := os.Getenv(wire.EnvHelpers); s != "" {
		for _, f := range strings.Split(s, ",") {
			id, err := strconv.Atoi(f)
			if err != nil {
				return opts, fmt.Errorf("%s: %w", wire.EnvHelpers, err)
			}
			opts.Helpers = append(opts.Helpers, id)
		}
	}
	if s := os.Getenv(wire.EnvKfuncs); s != "" {
		opts.Kfuncs = strings.Split(s, ",")
	}
	opts.Exhaustive = os.Getenv(wire.EnvExhaustive) == "1"
	return opts, nil
}

func uptime() float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}

// release is the guest kernel's uname release for the hello line; "" when uname fails.
func release() string {
	r, _ := hostkernel.Release()
	return r
}

// loadModules loads the modules the result channel needs, in name order; a refusal fails the
// guest (it has no channel to report on).
func loadModules() error {
	for _, m := range moduleFiles(wire.ModuleDir) {
		if err := loadModule(m); err != nil {
			return fmt.Errorf("load module %s: %w", filepath.Base(m), err)
		}
	}
	return nil
}

// loadKfuncModules loads the modules that bring kfuncs, in name order, and says how each went:
// a module the kernel refuses leaves the kernel without its kfuncs, which the probe then finds
// missing, and is no reason to fail the guest.
func loadKfuncModules() []observation.ModuleLoad {
	var out []observation.ModuleLoad
	start := time.Now()
	defer func() {
		if len(out) > 0 {
			fmt.Fprintf(os.Stderr, "bpfmatrix agent: %d kfunc modules loaded in %v\n", len(out), time.Since(start).Round(time.Millisecond))
		}
	}()
	for _, m := range moduleFiles(wire.KfuncModuleDir) {
		// The host names the files "NNN-<module>.ko" so that name order is load order.
		_, name, _ := strings.Cut(strings.TrimSuffix(filepath.Base(m), ".ko"), "-")
		l := observation.ModuleLoad{Name: name}
		if err := loadModule(m); err != nil {
			l.Error = err.Error()
			fmt.Fprintf(os.Stderr, "bpfmatrix agent: module %s not loaded: %v\n", name, err)
		}
		out = append(out, l)
	}
	return out
}

// moduleFiles returns the module files in dir, sorted by name.
func moduleFiles(dir string) []string {
	mods, _ := filepath.Glob(filepath.Join(dir, "*.ko"))
	sort.Strings(mods)
	return mods
}

// loadModule loads one module file; one already loaded (or built in) counts as loaded. It
// loads the module without its signature first: checking a Debian module's signature costs
// about 20 ms of an emulated CPU, most of the time a small module takes to load, and a kernel
// that does not insist on signatures loads the same code without one (marking itself tainted,
// which no BPF check looks at). A kernel that insists (module.sig_enforce, lockdown) refuses
// it, and then gets the signed file.
func loadModule(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if code, ok := withoutSignature(b); ok {
		err := unix.InitModule(code, "")
		if err == nil || err == unix.EEXIST {
			return nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && err != unix.EEXIST {
		return err
	}
	return nil
}

// moduleSigMagic ends a signed module file; before it come the signature and a 12-byte
// struct module_signature whose last 4 bytes are the signature's length (big-endian).
const moduleSigMagic = "~Module signature appended~\n"

// withoutSignature returns a signed module's bytes without the signature, or false when b
// is not a signed module.
func withoutSignature(b []byte) ([]byte, bool) {
	if !bytes.HasSuffix(b, []byte(moduleSigMagic)) {
		return nil, false
	}
	end := len(b) - len(moduleSigMagic)
	if end < 12 {
		return nil, false
	}
	sigLen := int(binary.BigEndian.Uint32(b[end-4 : end]))
	code := end - 12 - sigLen
	if sigLen <= 0 || code <= 0 {
		return nil, false
	}
	return b[:code], true
}

// ackTimeout bounds the wait for the host's acknowledgement of the trailer.
const ackTimeout = 10 * time.Second

// channel is the result channel: a character device the host reads through a QEMU chardev and
// answers on with one acknowledgement byte after the trailer.
type channel struct {
	f      *os.File
	serial bool
}

func openChannel(kind string) (*channel, error) {
	switch kind {
	case wire.ChannelSerial, "":
		return openSerial("/dev/ttyS1")
	case wire.ChannelVirtio:
		return openVirtio()
	}
	return nil, fmt.Errorf("%s: unknown channel %q", wire.EnvChannel, kind)
}

func openSerial(dev string) (*channel, error) {
	f, err := os.OpenFile(dev, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open result channel: %w", err)
	}
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("result channel %s: %w", dev, err)
	}
	// Raw mode: the stream is binary, so no newline translation (OPOST/ONLCR), no echo of the
	// host's acknowledgement and no flow control characters.
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.B115200 | unix.CLOCAL | unix.CREAD
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		f.Close()
		return nil, fmt.Errorf("result channel %s: %w", dev, err)
	}
	return &channel{f: f, serial: true}, nil
}

func openVirtio() (*channel, error) {
	// The port appears asynchronously after the driver probes the device.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ports, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
		for _, p := range ports {
			name, err := os.ReadFile(p)
			if err != nil || string(bytes.TrimSpace(name)) != wire.PortName {
				continue
			}
			dev := "/dev/" + filepath.Base(filepath.Dir(p))
			f, err := os.OpenFile(dev, os.O_RDWR, 0)
			if err != nil {
				return nil, fmt.Errorf("open result channel: %w", err)
			}
			return &channel{f: f}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("open result channel: no virtio-serial port named %s", wire.PortName)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *channel) Write(p []byte) (int, error) { return c.f.Write(p) }

// awaitAck waits for the host's acknowledgement byte: only then has every byte left the guest
// and its QEMU buffers, and powering off cannot cut the tail of the stream.
func (c *channel) awaitAck() error {
	if c.serial {
		// tcdrain first, so the wait below does not include the UART's backlog twice.
		if err := unix.IoctlSetInt(int(c.f.Fd()), unix.TCSBRK, 1); err != nil {
			return fmt.Errorf("drain result channel: %w", err)
		}
	}
	fds := []unix.PollFd{{Fd: int32(c.f.Fd()), Events: unix.POLLIN}}
	deadline := time.Now().Add(ackTimeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("result channel: no acknowledgement from the host within %v", ackTimeout)
		}
		n, err := unix.Poll(fds, int(left/time.Millisecond)+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("result channel: poll: %w", err)
		}
		if n > 0 {
			var b [1]byte
			if _, err := c.f.Read(b[:]); err != nil {
				return fmt.Errorf("result channel: read acknowledgement: %w", err)
			}
			return nil
		}
	}
}

func (c *channel) Close() error { return c.f.Close() }

// drainAndClose waits until a serial line sent every byte, then closes the channel; the cut
// stream of the "truncate" fault gets no acknowledgement to wait for.
func (c *channel) drainAndClose() error {
	if c.serial {
		if err := unix.IoctlSetInt(int(c.f.Fd()), unix.TCSBRK, 1); err != nil {
			c.f.Close()
			return fmt.Errorf("drain result channel: %w", err)
		}
	}
	return c.f.Close()
}
