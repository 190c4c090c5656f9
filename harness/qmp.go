package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// monitor is a QMP connection whose every call has a deadline: go-qemu's qmp package has none
// of its own, and a QEMU that stopped answering must not stall the run.
type monitor struct {
	mon *qmp.SocketMonitor
}

// dialMonitor connects to QEMU's QMP socket, retrying until QEMU created it or ctx ends.
func dialMonitor(ctx context.Context, path string) (*monitor, error) {
	for {
		d := time.Until(deadlineOf(ctx, time.Second))
		mon, err := qmp.NewSocketMonitor("unix", path, d)
		if err == nil {
			m := &monitor{mon: mon}
			if err := m.within(ctx, mon.Connect); err != nil {
				mon.Disconnect()
				return nil, fmt.Errorf("qmp: connect: %w", err)
			}
			return m, nil
		}
		var ne *net.OpError
		if !errors.As(err, &ne) {
			return nil, fmt.Errorf("qmp: dial: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp: dial: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func deadlineOf(ctx context.Context, max time.Duration) time.Time {
	d := time.Now().Add(max)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		return dl
	}
	return d
}

// within runs f and gives up when ctx ends. f keeps running in the background until the
// connection dies, which happens when the caller kills QEMU or disconnects.
func (m *monitor) within(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run executes one QMP command with a deadline and returns its "return" member.
func (m *monitor) run(ctx context.Context, timeout time.Duration, cmd string) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b, err := json.Marshal(qmp.Command{Execute: cmd})
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	var raw []byte
	err = m.within(ctx, func() error {
		var err error
		raw, err = m.mon.Run(b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	var resp struct {
		Return json.RawMessage `json:"return"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	return resp.Return, nil
}

// status returns the VM's run state from query-status ("running", "paused", "guest-panicked",
// "shutdown", ...).
func (m *monitor) status(ctx context.Context) (string, error) {
	ret, err := m.run(ctx, 2*time.Second, "query-status")
	if err != nil {
		return "", err
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(ret, &st); err != nil {
		return "", fmt.Errorf("qmp query-status: %w", err)
	}
	return st.Status, nil
}

// quit asks QEMU to exit.
func (m *monitor) quit(ctx context.Context) error {
	_, err := m.run(ctx, 2*time.Second, "quit")
	return err
}

// close drops the connection; it must not block on a QEMU that no longer answers.
func (m *monitor) close() {
	done := make(chan struct{})
	go func() { m.mon.Disconnect(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// stoppedStates are the QEMU run states of a guest that will not run on by itself: KVM that
// cannot execute the guest ("internal-error", seen under nested virtualization), a guest
// panic QEMU noticed, a paused or suspended VM. "shutdown" is left out: with -no-reboot QEMU
// exits right after it, and the exit says more.
var stoppedStates = map[string]bool{
	"internal-error": true, "guest-panicked": true, "io-error": true, "paused": true,
	"suspended": true, "watchdog": true, "colo": true,
}

// runStatePoll is how often a guest's run state is asked for: a query costs QEMU next to
// nothing, and a guest that stopped is then failed within a fraction of a second.
const runStatePoll = 250 * time.Millisecond

// watchRunState asks QEMU for the guest's run state until ctx ends, and sends the state on
// stopped once the guest is in one of stoppedStates. A monitor that stops answering ends the
// watch silently: the guest's timeout still bounds it.
func watchRunState(ctx context.Context, m *monitor, stopped chan<- string) {
	t := time.NewTicker(runStatePoll)
	defer t.Stop()
	for {
		st, err := m.status(ctx)
		if err != nil {
			return
		}
		if stoppedStates[st] {
			select {
			case stopped <- st:
			default:
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
