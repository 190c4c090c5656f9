// Package fakeqemu is a stand-in for qemu-system-x86_64 in tests of what the host does when QEMU
// or its guest misbehaves in ways a real kernel cannot be made to on demand: QEMU that exits at
// once, a guest that hangs, stops running (KVM's "internal-error") or cuts its result stream,
// and the replay of a result stream recorded from a real guest.
//
// A test binary becomes the fake by calling Main first thing in TestMain and naming itself
// (os.Args[0]) as the QEMU binary with the mode in the environment. The fake reads the same
// command line the harness gives QEMU: the result channel's socket (-chardev socket,...,path=),
// the QMP socket (-qmp unix:...), and answers QMP's qmp_capabilities, query-status and quit.
package fakeqemu

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// Environment variables that drive the fake.
const (
	// EnvMode selects the behaviour; unset means "not the fake" (Main returns).
	EnvMode = "BPFMATRIX_FAKE_QEMU"
	// EnvStream is a recorded result stream that the replay and cut modes send.
	EnvStream = "BPFMATRIX_FAKE_QEMU_STREAM"
	// EnvConsole is text the fake prints as the guest's console.
	EnvConsole = "BPFMATRIX_FAKE_QEMU_CONSOLE"
)

// The modes.
const (
	// Replay sends the recorded stream, waits for the host's acknowledgement, and exits 0: a
	// healthy guest.
	Replay = "replay"
	// Cut sends the first half of the recorded stream and exits 0: a guest whose stream was cut.
	Cut = "cut"
	// ExitSilent exits with status 1 at once, printing nothing (like /bin/false).
	ExitSilent = "exit-silent"
	// ExitError prints an error on stderr, as QEMU does for a bad option, and exits 1.
	ExitError = "exit-error"
	// Hang connects and then sends nothing, running until it is told to quit or killed.
	Hang = "hang"
	// Stopped behaves like a guest under KVM that cannot run: QMP reports the run state
	// "internal-error" and nothing is ever sent.
	Stopped = "stopped"
	// KVMBroken is Stopped when QEMU is asked for KVM (-accel kvm) and Replay otherwise: a
	// nested-virtualization host where /dev/kvm opens but cannot run a guest.
	KVMBroken = "kvm-broken"
	// ByImage takes the mode from the kernel image's release string, the word after "fake-"
	// ("7.3.4-fake-hang" hangs), so that one run can hold kernels that misbehave differently.
	ByImage = "by-image"
)

// ErrorText is what ExitError prints.
const ErrorText = "qemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied"

// Main runs the fake and exits when EnvMode is set; otherwise it returns at once.
func Main() {
	mode := os.Getenv(EnvMode)
	if mode == "" {
		return
	}
	os.Exit(run(mode, os.Args[1:]))
}

func run(mode string, args []string) int {
	if console := os.Getenv(EnvConsole); console != "" {
		fmt.Print(console)
	}
	if mode == ByImage {
		// QEMU runs in the guest's directory, where "kernel" is the image.
		mode = imageMode("kernel")
	}
	if mode == KVMBroken {
		mode = Replay
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-accel" && args[i+1] == "kvm" {
				mode = Stopped
			}
		}
	}
	switch mode {
	case Replay, Cut, Hang, Stopped:
	case ExitSilent:
		return 1
	case ExitError:
		fmt.Fprintln(os.Stderr, ErrorText)
		return 1
	default:
		fmt.Fprintf(os.Stderr, "fakeqemu: unknown mode %q\n", mode)
		return 2
	}
	results, qmpPath := sockets(args)
	state := "running"
	if mode == Stopped {
		state = "internal-error"
	}
	quit := make(chan struct{})
	if qmpPath != "" {
		go serveQMP(qmpPath, state, quit)
	}
	conn, err := net.Dial("unix", results)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeqemu:", err)
		return 1
	}
	defer conn.Close()
	switch mode {
	case Replay, Cut:
		data, err := os.ReadFile(os.Getenv(EnvStream))
		if err != nil {
			fmt.Fprintln(os.Stderr, "fakeqemu:", err)
			return 1
		}
		if mode == Cut {
			data = data[:len(data)/2]
		}
		conn.Write(data)
		if mode == Replay {
			// The agent waits for the host's byte before powering off; so does the fake.
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			conn.Read(make([]byte, 1))
		}
		return 0
	}
	<-quit
	return 0
}

// sockets finds the result channel's and QMP's socket paths on QEMU's command line.
func sockets(args []string) (results, qmp string) {
	for i := 0; i+1 < len(args); i++ {
		v := args[i+1]
		switch args[i] {
		case "-chardev":
			if strings.HasPrefix(v, "socket,") {
				for _, kv := range strings.Split(v, ",") {
					if p, ok := strings.CutPrefix(kv, "path="); ok {
						results = p
					}
				}
			}
		case "-qmp":
			qmp, _, _ = strings.Cut(strings.TrimPrefix(v, "unix:"), ",")
		}
	}
	return results, qmp
}

// serveQMP answers QMP on path: the greeting, qmp_capabilities, query-status with state, and
// quit, which closes quit.
func serveQMP(path, state string, quit chan struct{}) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.WriteString(c, `{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": []}}`+"\r\n")
			// Commands are JSON values, not lines: QMP clients need not end them with a newline.
			dec := json.NewDecoder(c)
			for {
				var cmd struct {
					Execute string `json:"execute"`
				}
				if err := dec.Decode(&cmd); err != nil {
					return
				}
				switch cmd.Execute {
				case "query-status":
					fmt.Fprintf(c, `{"return": {"status": %q, "singlestep": false, "running": %v}}`+"\r\n", state, state == "running")
				case "quit":
					io.WriteString(c, `{"return": {}}`+"\r\n")
					select {
					case <-quit:
					default:
						close(quit)
					}
					return
				default:
					io.WriteString(c, `{"return": {}}`+"\r\n")
				}
			}
		}()
	}
}

// imageMode reads the release string of an x86 boot image (at the offset its boot protocol
// header names) and returns the word after "fake-", or "" when there is none.
func imageMode(path string) string {
	buf, err := os.ReadFile(path)
	if err != nil || len(buf) < 0x210 || string(buf[0x202:0x206]) != "HdrS" {
		return ""
	}
	off := 0x200 + (int(buf[0x20e]) | int(buf[0x20f])<<8)
	if off >= len(buf) {
		return ""
	}
	release, _, _ := strings.Cut(string(buf[off:]), " ")
	_, mode, _ := strings.Cut(release, "fake-")
	return mode
}
