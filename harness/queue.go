package harness

import (
	"context"
	"sync"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// Queue holds the kernels a Stream boots. Kernels may be pushed while guests already run (a
// cold run boots each kernel as soon as its image is ready instead of after every download),
// and a free guest slot takes the newest release waiting: the newest kernels take the longest to
// probe, and starting them first keeps the last guest from running alone at the end.
type Queue struct {
	// arch is the architecture of the queue's kernels: a run's guests share one initramfs,
	// whose /init is an agent built for one architecture.
	arch    observation.Arch
	mu      sync.Mutex
	waiting []queued
	pushed  int
	closed  bool
	// signal wakes one waiting taker after a push; done wakes them all after Close.
	signal chan struct{}
	done   chan struct{}
}

// queued is a kernel waiting in a Queue, with its place in push order.
type queued struct {
	k     Kernel
	index int
}

// NewQueue returns an empty open queue of kernels of arch (empty: amd64).
func NewQueue(arch observation.Arch) *Queue {
	if arch == "" {
		arch = observation.DefaultArch
	}
	return &Queue{arch: arch, signal: make(chan struct{}, 1), done: make(chan struct{})}
}

// Push adds a kernel; its Result will be at the index of its push (from 0) in Stream's results.
func (q *Queue) Push(k Kernel) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		panic("harness: Push on a closed Queue")
	}
	q.waiting = append(q.waiting, queued{k, q.pushed})
	q.pushed++
	q.wake()
}

// guestsAtOnce is how many of the queue's guests run at the same time with parallel slots:
// parallel, or fewer when the queue was closed with fewer kernels.
func (q *Queue) guestsAtOnce(parallel int) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return min(parallel, q.pushed)
	}
	return parallel
}

// Close says no kernel will be pushed any more: Stream returns once the queue is empty and its
// guests have ended.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
}

// wake lets one waiting taker look again; q.mu is held.
func (q *Queue) wake() {
	select {
	case q.signal <- struct{}{}:
	default: // a taker is already due to look
	}
}

// take returns the newest kernel waiting, waiting for one to be pushed; false once the queue
// is closed and empty, or ctx is done.
func (q *Queue) take(ctx context.Context) (queued, bool) {
	for {
		if ctx.Err() != nil {
			return queued{}, false // a cancelled run starts no guest
		}
		q.mu.Lock()
		if len(q.waiting) > 0 {
			best := 0
			for i, w := range q.waiting {
				if newer(w.k, q.waiting[best].k) {
					best = i
				}
			}
			it := q.waiting[best]
			q.waiting = append(q.waiting[:best], q.waiting[best+1:]...)
			if len(q.waiting) > 0 {
				q.wake() // another taker may be waiting for what is left
			}
			q.mu.Unlock()
			return it, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return queued{}, false
		}
		select {
		case <-q.signal:
		case <-q.done:
		case <-ctx.Done():
		}
	}
}

// count returns how many kernels were pushed so far.
func (q *Queue) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pushed
}

// newer reports whether a's version sorts before b's in boot order: a higher release first,
// the order of pushes among equals.
func newer(a, b Kernel) bool {
	va, vb := versionKey(a.Version), versionKey(b.Version)
	for i := range va {
		if va[i] != vb[i] {
			return va[i] > vb[i]
		}
	}
	return false
}
