package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/observe"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// progressFor returns the display of a pipeline's events on w: a live board of the kernels
// named on a terminal, plain lines otherwise (a log file, CI), and the function that ends it.
func progressFor(w io.Writer, names []string) (func(observe.Event), func()) {
	if isTerminal(w) && os.Getenv("CI") == "" {
		b := newLiveBoard(w, names)
		return b.event, b.finish
	}
	return observe.LineLogger(w), func() {}
}

// fdWriter is a writer with a file descriptor: a file, or a command's checked output.
type fdWriter interface{ Fd() uintptr }

// isTerminal reports whether w is a terminal, where progress may redraw lines in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(fdWriter)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// liveBoard shows one status line per kernel plus one for archive-wide steps, redrawn in place
// with ANSI cursor movement; warnings are printed above the board and stay.
type liveBoard struct {
	w      io.Writer
	names  []string
	status map[string]string
	global string
	drawn  int
	width  int
}

func newLiveBoard(w io.Writer, names []string) *liveBoard {
	b := &liveBoard{w: w, status: map[string]string{}, width: 120}
	for _, n := range names {
		b.names = append(b.names, n)
		b.status[n] = "waiting"
	}
	if f, ok := w.(fdWriter); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 20 {
			b.width = int(ws.Col) - 1
		}
	}
	b.draw()
	return b
}

func (b *liveBoard) step(s vmimages.Step) {
	var permanent string
	switch {
	case s.Kernel == "" && strings.HasPrefix(s.Message, "warning") || strings.HasPrefix(s.Message, "apt: "):
		permanent = s.Message
	case s.Kernel == "":
		b.global = s.Message
	case s.Done && s.Err != nil:
		b.status[s.Kernel] = "FAILED: " + s.Err.Error()
	case s.Done:
		b.status[s.Kernel] = "ok " + s.Message
	default:
		b.status[s.Kernel] = s.Message
	}
	b.clear()
	if permanent != "" {
		fmt.Fprintln(b.w, permanent)
	}
	b.draw()
}

// event shows one step of the observation pipeline.
func (b *liveBoard) event(e observe.Event) {
	switch e.Phase {
	case observe.PhaseNote:
		b.step(vmimages.Step{Kernel: e.Kernel, Message: e.Message})
	case observe.PhaseDone:
		var err error
		if e.Failed {
			err = fmt.Errorf("%s", strings.TrimPrefix(e.Message, "failed: "))
		}
		b.step(vmimages.Step{Kernel: e.Kernel, Message: e.Message, Done: true, Err: err})
	default:
		b.step(vmimages.Step{Kernel: e.Kernel, Message: e.Message})
	}
}

func (b *liveBoard) clear() {
	if b.drawn > 0 {
		fmt.Fprintf(b.w, "\x1b[%dA", b.drawn)
	}
	for i := 0; i < b.drawn; i++ {
		fmt.Fprint(b.w, "\r\x1b[K\n")
	}
	if b.drawn > 0 {
		fmt.Fprintf(b.w, "\x1b[%dA", b.drawn)
	}
	b.drawn = 0
}

func (b *liveBoard) draw() {
	lines := []string{}
	if b.global != "" {
		lines = append(lines, "archive  "+b.global)
	}
	for _, n := range b.names {
		lines = append(lines, fmt.Sprintf("%-8s %s", n, b.status[n]))
	}
	for _, l := range lines {
		if r := []rune(l); len(r) > b.width {
			l = string(r[:b.width-1]) + "…"
		}
		fmt.Fprintf(b.w, "\r\x1b[K%s\n", l)
	}
	b.drawn = len(lines)
}

// finish leaves the final board on the screen, with full error texts below it.
func (b *liveBoard) finish() {
	b.clear()
	b.width = 1 << 20
	b.draw()
}
