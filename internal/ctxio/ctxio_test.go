package ctxio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// endless is a reader that never ends, like /dev/zero.
type endless struct{}

func (endless) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestCopy: Copy copies a whole finite reader, and copying an endless one stops within a moment
// of the context's end with the context's error.
func TestCopy(t *testing.T) {
	data := bytes.Repeat([]byte("bpf"), 1<<20)
	var out bytes.Buffer
	if n, err := Copy(context.Background(), &out, bytes.NewReader(data)); err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("Copy = %d, %v", n, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Copy(ctx, io.Discard, endless{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the context's", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("copying stopped %v after the deadline", d)
	}
}
