package harness

import (
	"sort"

	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness/guest"
	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/kconfig"
)

// stopGrace is how long a guest that is being stopped gets to exit after QMP "quit" before
// it is killed.
const stopGrace = 3 * time.Second

// boot runs one kernel's guest to its end and returns what it brought back; problems of the
// guest are in the Result, the error is for problems of the host (a missing QEMU, no temp dir).
func boot(ctx context.Context, cfg *Config, k *Kernel, accel, initrd string, progress func(Event)) (*Result, error) {
	res := &Result{Kernel: *k, Guest: Guest{
		Accel: accel, ImageSHA256: k.SHA256, Package: k.Package, Version: k.Version,
		CPUs: cfg.CPUs, MemoryMB: cfg.MemoryMB, Status: StatusFailed,
	}}
	// The config is read once: it picks the result channel and is recorded in the report.
	var conf kconfig.Config
	if k.Config != "" {
		var err error
		if conf, err = kconfig.Read(k.Config); err != nil {
			return nil, fmt.Errorf("kernel %s: %w", k.Name, err)
		}
		for name := range conf {
			if conf.Set(name) {
				res.Guest.KernelConfig = append(res.Guest.KernelConfig, name)
			}
		}
		sort.Strings(res.Guest.KernelConfig)
	}
	if _, err := os.Stat(k.Path); err != nil {
		// A kernel of its own that is missing fails alone, like one that does not boot.
		res.Guest.Error = fmt.Sprintf("kernel image: %v", err)
		if progress != nil {
			progress(Event{Kernel: k.Name, Phase: "done", Result: res})
		}
		return res, nil
	}
	channel := channelFor(cfg, k, conf)
	res.Guest.Channel = channel
	if extra := kernelFiles(k, channel); len(extra) > 0 {
		var err error
		if initrd, err = withFiles(cfg, initrd, extra); err != nil {
			return nil, fmt.Errorf("kernel %s: %w", k.Name, err)
		}
		defer os.Remove(initrd)
	}

	dir, err := os.MkdirTemp(cfg.WorkDir, "g")
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", k.Name, err)
	}
	defer os.RemoveAll(dir)
	// QEMU runs in dir and sees only the plain names below: its option syntax gives ',' and
	// '=' meanings that a user's temp directory or image path may well contain.
	for name, target := range map[string]string{guestKernel: k.Path, guestInitrd: initrd} {
		abs, err := filepath.Abs(target)
		if err == nil {
			err = os.Symlink(abs, filepath.Join(dir, name))
		}
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", k.Name, err)
		}
	}
	resultSock := filepath.Join(dir, guestResults)
	qmpSock := filepath.Join(dir, guestQMP)
	// Unix socket paths are limited to 108 bytes.
	if len(resultSock) >= 108 {
		return nil, fmt.Errorf("kernel %s: work directory %s: path too long for a unix socket; set TMPDIR to a shorter one", k.Name, cfg.WorkDir)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: resultSock, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", k.Name, err)
	}
	defer ln.Close()

	con := newConsole(cfg.ConsoleTail)
	var stderr bytes.Buffer
	cmd := exec.Command(cfg.QEMU, qemuArgs(cfg, k, accel, channel)...)
	cmd.Dir = dir
	cmd.Stdout = con
	cmd.Stderr = &limitedBuffer{buf: &stderr, max: 8 << 10}
	// Own process group: a Ctrl-C on the terminal reaches us, and we stop guests in order.
	// Pdeathsig: if we die anyway, the kernel kills QEMU.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("kernel %s: start qemu: %w", k.Name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if progress != nil {
		progress(Event{Kernel: k.Name, Phase: "boot"})
	}

	// Read the result stream as it comes.
	var (
		mu             sync.Mutex
		helloAt, endAt time.Time
	)
	type streamOut struct {
		s   *wire.Stream
		err error
	}
	streamDone := make(chan streamOut, 1)
	go func() {
		conn, err := ln.AcceptUnix()
		if err != nil {
			streamDone <- streamOut{&wire.Stream{}, fmt.Errorf("%w: no connection from QEMU: %v", wire.ErrTruncated, err)}
			return
		}
		defer conn.Close()
		ev := wire.Events{
			Hello: func(wire.Hello) {
				mu.Lock()
				helloAt = time.Now()
				mu.Unlock()
				if progress != nil {
					progress(Event{Kernel: k.Name, Phase: "probe", Elapsed: time.Since(start)})
				}
			},
		}
		if progress != nil {
			last := time.Now()
			ev.Result = func(n int) {
				if time.Since(last) >= 250*time.Millisecond {
					last = time.Now()
					progress(Event{Kernel: k.Name, Phase: "probe", Results: n, Elapsed: time.Since(start)})
				}
			}
		}
		s, err := wire.Read(conn, ev)
		mu.Lock()
		endAt = time.Now()
		mu.Unlock()
		if s.Trailer != nil {
			// The agent waits for this byte before it powers off, so nothing is lost in
			// buffers on the way.
			conn.Write([]byte{'\n'})
		}
		// Keep reading until QEMU closes the socket, so it never blocks on a full buffer.
		io.Copy(io.Discard, conn)
		streamDone <- streamOut{s, err}
	}()

	// Connect QMP in the background: only a guest that must be stopped needs it.
	monc := make(chan *monitor, 1)
	// Not derived from ctx: a cancelled run still wants QMP to stop its guests politely.
	dctx, dialCancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer dialCancel()
	go func() {
		m, err := dialMonitor(dctx, qmpSock)
		if err != nil {
			monc <- nil
			return
		}
		monc <- m
	}()

	timeout := cfg.Timeout
	if k.Timeout > 0 {
		timeout = k.Timeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var (
		exitErr   error
		stopNote  string
		timedOut  bool
		cancelled bool
	)
	select {
	case exitErr = <-exited:
	case <-timer.C:
		timedOut = true
	case <-ctx.Done():
		cancelled = true
	}
	if !timedOut && !cancelled {
		// QEMU is gone; a dial still waiting for its socket would wait in vain.
		dialCancel()
	}
	m := <-monc
	if timedOut || cancelled {
		stopNote, exitErr = stop(cmd, m, exited)
	}
	if m != nil {
		m.close()
	}
	ln.Close()
	out := <-streamDone

	res.Guest.ConsoleTail = con.Tail()
	s := out.s
	res.Header, res.Results = s.Header, s.Results
	res.Guest.StreamBytes = s.Bytes
	if s.Hello != nil {
		res.Guest.Release = s.Hello.Kernel
		res.Guest.KernelSeconds = s.Hello.Uptime
		mu.Lock()
		res.Guest.BootSeconds = helloAt.Sub(start).Seconds()
		res.Guest.ProbeSeconds = endAt.Sub(helloAt).Seconds()
		mu.Unlock()
	}
	switch {
	case cancelled:
		res.Guest.Interrupted = true
		res.Guest.Error = fmt.Sprintf("interrupted after %.1fs with %d results received%s", time.Since(start).Seconds(), len(s.Results), stopNote)
	case timedOut:
		res.Guest.Error = fmt.Sprintf("guest did not finish within %v (%d results received%s)", timeout, len(s.Results), stopNote)
	case con.Trouble() != "":
		res.Guest.Error = "kernel: " + con.Trouble()
	case s.Error != "":
		res.Guest.Error = "agent: " + s.Error
	case exitErr != nil && s.Hello == nil && stderr.Len() > 0:
		// QEMU itself refused (an image it cannot load, a bad option): its words say why.
		res.Guest.Error = fmt.Sprintf("qemu: %v%s", exitErr, stderrNote(&stderr))
	case out.err != nil:
		res.Guest.Error = out.err.Error()
		if s.Hello == nil {
			res.Guest.Error = "the agent never started: " + res.Guest.Error
		}
		if note := con.AgentNote(); note != "" {
			// What the agent could not say on its channel, it said on the console.
			res.Guest.Error += "; console: " + note
		}
		if exitErr != nil {
			res.Guest.Error += fmt.Sprintf(" (qemu: %v%s)", exitErr, stderrNote(&stderr))
		}
	case exitErr != nil:
		res.Guest.Error = fmt.Sprintf("qemu: %v%s", exitErr, stderrNote(&stderr))
	default:
		res.Guest.Status = StatusOK
	}
	if progress != nil {
		progress(Event{Kernel: k.Name, Phase: "done", Results: len(s.Results), Elapsed: time.Since(start), Result: res})
	}
	return res, nil
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
		return ""
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
// modules when the result channel needs them (named so that the agent loads them in order), and
// its build configuration, which the probe cites when the kernel lacks an option a variant needs.
func kernelFiles(k *Kernel, channel string) []File {
	var files []File
	if channel == ChannelVirtio {
		for i, m := range k.Modules {
			base := strings.TrimSuffix(filepath.Base(m), ".ko")
			files = append(files, File{Name: fmt.Sprintf("%s/%02d-%s.ko", guest.ModuleDir, i, base), Source: m, Mode: 0o644})
		}
	}
	if k.Config != "" {
		files = append(files, File{Name: guest.KernelConfigPath, Source: k.Config, Mode: 0o644})
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
