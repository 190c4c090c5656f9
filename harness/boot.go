package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/kconfig"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// stopGrace is how long a guest that is being stopped gets to exit after QMP "quit" before
// it is killed.
const stopGrace = 3 * time.Second

// guestRun is one boot of one kernel: what prepare set up, the running QEMU, and what came back.
type guestRun struct {
	cfg      *Config
	k        *Kernel
	accel    string
	progress func(Event)
	res      *Result
	conf     kconfig.Config
	channel  string
	dir      string // QEMU's working directory, holding the names of guestKernel etc.
	ln       *net.UnixListener
	cleanup  []func()

	cmd     *exec.Cmd
	con     *console
	stderr  bytes.Buffer
	exited  chan error
	start   time.Time
	timeout time.Duration

	mu             sync.Mutex
	helloAt, endAt time.Time
}

// streamOut is what the reader of the result stream ends with.
type streamOut struct {
	s   *wire.Stream
	err error
}

// ending says how the wait for a guest ended.
type ending struct {
	exitErr   error
	stopNote  string
	timedOut  bool
	cancelled bool
	// stopped is the QEMU run state of a guest that stopped running without exiting
	// ("internal-error", "guest-panicked", ...).
	stopped string
}

// boot runs one kernel's guest to its end and returns what it brought back; problems of the
// guest are in the Result, the error is for problems of the host (a missing QEMU, no temp dir).
func boot(ctx context.Context, cfg *Config, k *Kernel, accel, initrd string, progress func(Event)) (*Result, error) {
	g := &guestRun{cfg: cfg, k: k, accel: accel, progress: progress}
	defer g.close()
	if err := g.prepare(initrd); err != nil {
		return nil, fmt.Errorf("kernel %s: %w", k.Name, err)
	}
	if g.res.Doc.Guest.Error != "" {
		g.event(Event{Phase: "done", Result: g.res})
		return g.res, nil
	}
	if err := g.startQEMU(); err != nil {
		return nil, fmt.Errorf("kernel %s: %w", k.Name, err)
	}
	g.event(Event{Phase: "boot"})
	streamDone := make(chan streamOut, 1)
	go func() { streamDone <- g.stream() }()
	end := g.wait(ctx)
	out := <-streamDone
	g.classify(out, end)
	g.event(Event{Phase: "done", Results: received(&g.res.Doc), Elapsed: time.Since(g.start), Result: g.res})
	return g.res, nil
}

func (g *guestRun) event(e Event) {
	if g.progress != nil {
		e.Kernel = g.k.Name
		g.progress(e)
	}
}

func (g *guestRun) close() {
	for i := len(g.cleanup) - 1; i >= 0; i-- {
		g.cleanup[i]()
	}
}

// prepare reads the kernel's config, picks the result channel, writes the kernel's initramfs
// and QEMU's working directory, and listens for the result stream. A kernel image that is
// missing fails this kernel alone, like one that does not boot: the guest block says why.
func (g *guestRun) prepare(initrd string) error {
	cfg, k := g.cfg, g.k
	guest := &observation.Guest{
		Accel: g.accel, Image: k.Image, CPUs: cfg.CPUs, MemoryMB: cfg.MemoryMB, Status: observation.StatusFailed,
	}
	g.res = &Result{Kernel: *k, Doc: observation.Document{Guest: guest}}
	g.timeout = cfg.Timeout
	if k.Timeout > 0 {
		g.timeout = k.Timeout
	}
	// The config is read once: it picks the result channel and is recorded in the report.
	if k.Config != "" {
		var err error
		if g.conf, err = kconfig.Read(k.Config); err != nil {
			return err
		}
		for name := range g.conf {
			if g.conf.Set(name) {
				guest.KernelConfig = append(guest.KernelConfig, name)
			}
		}
		sort.Strings(guest.KernelConfig)
	}
	if _, err := os.Stat(k.Path); err != nil {
		guest.Error = fmt.Sprintf("kernel image: %v", err)
		return nil
	}
	g.channel = channelFor(cfg, k, g.conf)
	guest.Channel = g.channel
	if extra := kernelFiles(k, g.channel); len(extra) > 0 {
		var err error
		if initrd, err = withFiles(cfg, initrd, extra); err != nil {
			return err
		}
		name := initrd
		g.cleanup = append(g.cleanup, func() { os.Remove(name) })
	}
	dir, err := os.MkdirTemp(cfg.WorkDir, "g")
	if err != nil {
		return err
	}
	g.dir = dir
	g.cleanup = append(g.cleanup, func() { os.RemoveAll(dir) })
	// QEMU runs in dir and sees only the plain names below: its option syntax gives ',' and
	// '=' meanings that a user's temp directory or image path may well contain.
	kernel := k.Path
	if m, _ := machineFor(k.Arch); m.arch == observation.ArchAMD64 && !cfg.NoPVH {
		if vmlinux, why := pvhKernel(context.Background(), k.Path, dir); vmlinux != "" {
			kernel = vmlinux
		} else if why != "" && g.cfg.Notice != nil {
			g.cfg.Notice(fmt.Sprintf("%s: booting %s as it is (%s)", k.Name, k.Path, why))
		}
	}
	for name, target := range map[string]string{guestKernel: kernel, guestInitrd: initrd} {
		abs, err := filepath.Abs(target)
		if err == nil {
			err = os.Symlink(abs, filepath.Join(dir, name))
		}
		if err != nil {
			return err
		}
	}
	resultSock := filepath.Join(dir, guestResults)
	// Unix socket paths are limited to 108 bytes.
	if len(resultSock) >= 108 {
		return fmt.Errorf("work directory %s: path too long for a unix socket; set TMPDIR to a shorter one", cfg.WorkDir)
	}
	if g.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: resultSock, Net: "unix"}); err != nil {
		return err
	}
	g.cleanup = append(g.cleanup, func() { g.ln.Close() })
	return nil
}

// startQEMU starts the guest's QEMU with the console on its stdout.
func (g *guestRun) startQEMU() error {
	g.con = newConsole(g.cfg.ConsoleTail)
	m, err := machineFor(g.k.Arch)
	if err != nil {
		return err
	}
	g.cmd = exec.Command(m.qemu(g.cfg), qemuArgs(g.cfg, g.k, g.accel, g.channel)...)
	g.cmd.Dir = g.dir
	g.cmd.Stdout = g.con
	g.cmd.Stderr = &limitedBuffer{buf: &g.stderr, max: 8 << 10}
	// Own process group: a Ctrl-C on the terminal reaches us, and we stop guests in order.
	// Pdeathsig: if we die anyway, the kernel kills QEMU.
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	g.start = time.Now()
	if err := g.cmd.Start(); err != nil {
		return fmt.Errorf("start qemu: %w", err)
	}
	g.exited = make(chan error, 1)
	go func() { g.exited <- g.cmd.Wait() }()
	return nil
}

// stream reads the result stream as it comes, until QEMU closes the socket.
func (g *guestRun) stream() streamOut {
	conn, err := g.ln.AcceptUnix()
	if err != nil {
		return streamOut{&wire.Stream{}, fmt.Errorf("%w: no connection from QEMU: %v", wire.ErrTruncated, err)}
	}
	defer conn.Close()
	ev := wire.Events{
		Hello: func(wire.Hello) {
			g.mu.Lock()
			g.helloAt = time.Now()
			g.mu.Unlock()
			g.event(Event{Phase: "probe", Elapsed: time.Since(g.start)})
		},
	}
	if g.progress != nil {
		last := time.Now()
		ev.Result = func(n int) {
			if time.Since(last) >= 250*time.Millisecond {
				last = time.Now()
				g.event(Event{Phase: "probe", Results: n, Elapsed: time.Since(g.start)})
			}
		}
	}
	var r io.Reader = conn
	if g.cfg.StreamDir != "" {
		if f, err := os.Create(filepath.Join(g.cfg.StreamDir, g.k.Name+".stream")); err == nil {
			defer f.Close()
			r = io.TeeReader(conn, f)
		}
	}
	s, err := wire.Read(r, ev)
	g.mu.Lock()
	g.endAt = time.Now()
	g.mu.Unlock()
	if s.Trailer != nil {
		// The agent waits for this byte before it powers off, so nothing is lost in buffers
		// on the way.
		conn.Write([]byte{'\n'})
	}
	// Keep reading until QEMU closes the socket, so it never blocks on a full buffer.
	io.Copy(io.Discard, conn)
	return streamOut{s, err}
}

// wait waits for QEMU to exit, the guest's time to run out, the run to be cancelled, or the
// guest to stop running without QEMU exiting (KVM's "internal-error", a paused VM); in all
// but the first case it stops QEMU.
func (g *guestRun) wait(ctx context.Context) ending {
	// QMP is connected in the background: it tells a guest that stopped running, and stops a
	// guest politely. Not derived from ctx: a cancelled run still wants to stop its guests so.
	monc := make(chan *monitor, 1)
	dctx, dialCancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer dialCancel()
	go func() {
		m, _ := dialMonitor(dctx, filepath.Join(g.dir, guestQMP))
		monc <- m
	}()
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatch()
	var m *monitor
	stoppedState := make(chan string, 1)
	timer := time.NewTimer(g.timeout)
	defer timer.Stop()
	var end ending
	for waiting := true; waiting; {
		select {
		case end.exitErr = <-g.exited:
			g.exited <- end.exitErr // stop reads it again if needed
			waiting = false
		case <-timer.C:
			end.timedOut = true
			waiting = false
		case <-ctx.Done():
			end.cancelled = true
			waiting = false
		case mm := <-monc:
			m = mm
			monc = nil
			if m != nil {
				go watchRunState(watchCtx, m, stoppedState)
			}
		case st := <-stoppedState:
			end.stopped = st
			waiting = false
		}
	}
	stopWatch()
	if monc != nil {
		if end.exitErr != nil || (!end.timedOut && !end.cancelled) {
			// QEMU is gone; a dial still waiting for its socket would wait in vain.
			dialCancel()
		}
		m = <-monc
	}
	if end.timedOut || end.cancelled || end.stopped != "" {
		end.stopNote, end.exitErr = stop(g.cmd, m, g.exited)
	} else {
		end.exitErr = <-g.exited
	}
	if m != nil {
		m.close()
	}
	if end.timedOut || end.cancelled || end.stopped != "" {
		g.ln.Close()
	} else {
		// QEMU exited by itself: a connection it made is queued on the listener even if the
		// reader has not accepted it yet (a fast guest, a loaded host). Let the reader take it.
		g.ln.SetDeadline(time.Now().Add(time.Second))
	}
	return end
}

// classify fills the result from the stream and how the wait ended: the facts and results
// the agent sent, the timings, and the guest's status with the first reason it failed.
func (g *guestRun) classify(out streamOut, end ending) {
	guest := g.res.Doc.Guest
	guest.ConsoleTail = g.con.Tail()
	s := out.s
	guest.StreamBytes = s.Bytes
	decodeErr := decodeStream(s, &g.res.Doc, g.cfg.LoadPlan != nil)
	if s.Hello != nil {
		guest.Release = s.Hello.Kernel
		guest.KernelSeconds = s.Hello.Uptime
		g.mu.Lock()
		guest.BootSeconds = g.helloAt.Sub(g.start).Seconds()
		guest.ProbeSeconds = g.endAt.Sub(g.helloAt).Seconds()
		g.mu.Unlock()
	}
	if ps := g.cmd.ProcessState; ps != nil {
		// QEMU's own CPU time: what the guest cost, whatever else the host was running.
		guest.CPUSeconds = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	n := received(&g.res.Doc)
	switch {
	case end.cancelled:
		guest.Interrupted = true
		guest.Error = fmt.Sprintf("interrupted after %.1fs with %d results received%s", time.Since(g.start).Seconds(), n, end.stopNote)
	case end.stopped != "":
		guest.Error = fmt.Sprintf("guest stopped running: QEMU run state %s after %.1fs (%d results received%s)", end.stopped, time.Since(g.start).Seconds(), n, end.stopNote)
	case end.timedOut:
		guest.Error = fmt.Sprintf("guest did not finish within %v (%d results received%s)", g.timeout, n, end.stopNote)
	case g.con.Trouble() != "":
		guest.Error = "kernel: " + g.con.Trouble()
	case s.Error != "":
		guest.Error = "agent: " + s.Error
	case end.exitErr != nil && s.Hello == nil && (g.stderr.Len() > 0 || s.Bytes == 0):
		// QEMU itself refused (an image it cannot load, a bad option) or is not QEMU at all:
		// its exit and its words say why, not the channel it never opened.
		guest.Error = fmt.Sprintf("qemu exited before the guest sent anything: %v%s", end.exitErr, stderrNote(&g.stderr))
	case out.err != nil:
		guest.Error = g.streamError(out.err, s, end.exitErr)
	case decodeErr != nil:
		guest.Error = decodeErr.Error()
	case end.exitErr != nil:
		guest.Error = fmt.Sprintf("qemu: %v%s", end.exitErr, stderrNote(&g.stderr))
	default:
		guest.Status = observation.StatusOK
	}
}

// streamError explains a stream that did not end with a valid trailer.
func (g *guestRun) streamError(err error, s *wire.Stream, exitErr error) string {
	msg := err.Error()
	if s.Hello == nil {
		msg = "the agent never started: " + msg
	}
	if note := g.con.AgentNote(); note != "" {
		// What the agent could not say on its channel, it said on the console.
		msg += "; console: " + note
	}
	if exitErr != nil {
		msg += fmt.Sprintf(" (qemu: %v%s)", exitErr, stderrNote(&g.stderr))
	}
	return msg
}

// decodeStream puts the agent's header and result lines into doc: probe results, or the
// loads of a load run. It keeps every result that decodes; the error names each line that
// does not.
func decodeStream(s *wire.Stream, doc *observation.Document, load bool) error {
	var errs []error
	if len(s.Header) > 0 {
		if err := json.Unmarshal(s.Header, &doc.Facts); err != nil {
			errs = append(errs, fmt.Errorf("agent header: %w", err))
		}
	}
	var err error
	if load {
		doc.Loads, err = decodeResults[observation.ProgramLoad](s.Results)
	} else {
		doc.Results, err = decodeResults[observation.Result](s.Results)
	}
	return errors.Join(append(errs, err)...)
}

// decodeResults decodes the agent's result lines as Ts (probe results or loads), keeping every
// line that decodes; the error names each line that does not.
func decodeResults[T any](lines []json.RawMessage) ([]T, error) {
	var errs []error
	out := make([]T, 0, len(lines))
	for i, raw := range lines {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			errs = append(errs, fmt.Errorf("agent result %d: %w", i+1, err))
			continue
		}
		out = append(out, v)
	}
	return out, errors.Join(errs...)
}

// stop ends a guest that overran or whose run was cancelled: it asks QMP for the VM's state (for
// the report) and to quit, and kills QEMU if that does not work in time.
func stop(cmd *exec.Cmd, m *monitor, exited <-chan error) (note string, exitErr error) {
	if m != nil {
		ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
		defer cancel()
		if st, err := m.status(ctx); err == nil {
			note = "; QEMU status " + st
		} else {
			note = "; QMP: " + err.Error()
		}
		if err := m.quit(ctx); err == nil {
			select {
			case err := <-exited:
				return note, err
			case <-time.After(stopGrace):
			}
		}
	}
	// The whole process group: QEMU and anything it started.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return note + "; killed", <-exited
}

func stderrNote(b *bytes.Buffer) string {
	s := strings.TrimSpace(b.String())
	if s == "" {
		return " (nothing on stderr)"
	}
	return ": " + s
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.buf.Len(); room > 0 {
		if len(p) > room {
			l.buf.Write(p[:room])
		} else {
			l.buf.Write(p)
		}
	}
	return len(p), nil
}

// kernelFiles are the files one kernel's guest needs on top of the shared initramfs: its virtio
// modules when the result channel needs them and its kfunc modules (each set named so that the
// agent loads it in order), and its build configuration, which the probe cites when the kernel
// lacks an option a variant needs.
func kernelFiles(k *Kernel, channel string) []File {
	var files []File
	if channel == wire.ChannelVirtio {
		files = moduleFiles(files, wire.ModuleDir, k.Modules)
	}
	files = moduleFiles(files, wire.KfuncModuleDir, k.KfuncModules)
	if k.Config != "" {
		files = append(files, File{Name: wire.KernelConfigPath, Source: k.Config, Mode: 0o644})
	}
	return files
}

// moduleFiles appends mods as files of dir named "NN-<name>.ko", so that name order is load order.
func moduleFiles(files []File, dir string, mods []string) []File {
	for i, m := range mods {
		base := strings.TrimSuffix(filepath.Base(m), ".ko")
		files = append(files, File{Name: fmt.Sprintf("%s/%03d-%s.ko", dir, i, base), Source: m, Mode: 0o644})
	}
	return files
}

// withFiles writes a copy of the base initramfs with files appended as a second cpio archive
// (the kernel unpacks concatenated archives).
func withFiles(cfg *Config, base string, files []File) (string, error) {
	f, err := os.CreateTemp(cfg.WorkDir, "initrd-*")
	if err != nil {
		return "", fmt.Errorf("initramfs: %w", err)
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}
	src, err := os.Open(base)
	if err != nil {
		return fail(fmt.Errorf("initramfs: %w", err))
	}
	_, err = io.Copy(f, src)
	src.Close()
	if err != nil {
		return fail(fmt.Errorf("initramfs: %w", err))
	}
	// A gzip base is followed by a gzip part: the kernel accepts a mix, but not a compressed
	// archive continued by raw bytes inside the same member.
	mods := &Initramfs{Files: files, Compress: cfg.CompressInitramfs}
	if _, err := mods.WriteTo(f); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(fmt.Errorf("initramfs: %w", err))
	}
	return name, nil
}

var errNoKernels = errors.New("no kernels to run")
