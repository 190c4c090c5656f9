// Package ctxio makes long reads stop when their context ends: hashing a kernel image or copying
// one is seconds of work on a real file and endless on a device that never ends, and Ctrl-C or
// SIGTERM must stop either.
package ctxio

import (
	"context"
	"io"
)

// chunk is how much is read between two looks at the context.
const chunk = 1 << 20

type reader struct {
	ctx context.Context
	r   io.Reader
}

// Reader returns a reader of r whose reads fail with the context's error once ctx is done.
func Reader(ctx context.Context, r io.Reader) io.Reader { return &reader{ctx: ctx, r: r} }

func (r *reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, context.Cause(r.ctx)
	}
	if len(p) > chunk {
		p = p[:chunk]
	}
	return r.r.Read(p)
}

// Copy copies src to dst until EOF or until ctx ends.
func Copy(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	return io.Copy(dst, Reader(ctx, src))
}
