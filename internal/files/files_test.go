package files

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "f.json")
	if err := WriteAtomic(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A write that fails half-way leaves the old content and no temporary file.
	err := WriteAtomicFunc(p, 0o644, func(w io.Writer) error {
		w.Write([]byte("tw"))
		return errors.New("disk full")
	})
	if err == nil {
		t.Fatal("a failed write reported success")
	}
	b, _ := os.ReadFile(p)
	left, _ := os.ReadDir(filepath.Dir(p))
	if string(b) != "one" || len(left) != 1 {
		t.Fatalf("content %q, %d files in the directory", b, len(left))
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	sum, err := SHA256(context.Background(), p)
	if err != nil || sum != "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed" {
		t.Errorf("SHA256 = %s, %v", sum, err)
	}
	if _, err := SHA256(context.Background(), filepath.Join(dir, "missing")); err == nil {
		t.Error("SHA256 of a missing file succeeded")
	}
}

// TestIsSHA256: 64 lower-case hex digits, nothing else.
func TestIsSHA256(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		s    string
		want bool
	}{
		{hex64, true},
		{strings.ToUpper(hex64), false},
		{hex64[:63], false},
		{hex64 + "0", false},
		{hex64[:63] + "g", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsSHA256(tt.s); got != tt.want {
			t.Errorf("IsSHA256(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
