package vmimages

import (
	"context"
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

var errWouldBlock = errors.New("lock held by another process")

// flock tries once to take an advisory lock on f.
func flock(f *os.File, exclusive bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return errWouldBlock
	}
	return err
}

// ctxMutex is a mutex whose lock gives up when ctx ends: a kernel waiting for another kernel's
// apt-get update must still stop at Ctrl-C. The zero value is unlocked.
type ctxMutex struct {
	once sync.Once
	ch   chan struct{}
}

func (m *ctxMutex) lock(ctx context.Context) error {
	m.once.Do(func() { m.ch = make(chan struct{}, 1) })
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case m.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *ctxMutex) unlock() { <-m.ch }
