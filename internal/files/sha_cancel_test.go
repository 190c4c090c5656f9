package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// TestSHA256Cancel: hashing a large file (a sparse one just under Image.Max) stops within a
// moment of the context's end.
func TestSHA256Cancel(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	data := bytes.Repeat([]byte("bpf"), 1<<20)
	testenv.WriteFile(t, small, data)
	sum := sha256.Sum256(data)
	if got, err := SHA256(context.Background(), small); err != nil || got != hex.EncodeToString(sum[:]) {
		t.Fatalf("SHA256 = %s, %v", got, err)
	}
	huge := filepath.Join(dir, "huge")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(Image.Max); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = SHA256(ctx, huge)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the context's", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("hashing stopped %v after the deadline", d)
	}
}
