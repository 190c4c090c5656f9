package observe

import (
	"context"
	"sync"

	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// finished holds the final answers of a run's kernels by kernel name: Observations for Run,
// LoadObservations for Load. Guests finish from their own goroutines, so it is locked.
type finished[T any] struct {
	mu  sync.Mutex
	got map[string]*T
}

// put records the final answers of the kernel name.
func (f *finished[T]) put(name string, o *T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.got == nil {
		f.got = map[string]*T{}
	}
	f.got[name] = o
}

func (f *finished[T]) get(name string) (*T, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.got[name]
	return o, ok
}

// inOrder returns every kernel's answers in the order of entries (kernels.yaml's). A kernel
// that has none (the run was cancelled before its turn) is first handed to fail with the
// reason, which finishes it as failed (and so puts its answers).
func (f *finished[T]) inOrder(ctx context.Context, entries []vmimages.Entry, fail func(name string, why error)) []T {
	var out []T
	for _, e := range entries {
		o, ok := f.get(e.Name)
		if !ok {
			fail(e.Name, missing(ctx))
			o, _ = f.get(e.Name)
		}
		out = append(out, *o)
	}
	return out
}
