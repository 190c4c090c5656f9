package observe

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// TestFaultOutDirNodes: the directory run and verify write observations into, or a kernel's
// file there, that is a device or a FIFO is refused before anything boots, and WriteFile
// refuses it too rather than replace the node.
func TestFaultOutDirNodes(t *testing.T) {
	dir := t.TempDir()
	null := testenv.Nodes(t, dir, "null")[0]
	out := filepath.Join(dir, "out")
	fifo := filepath.Join(out, "7.3.json")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.FIFO(t, fifo)
	for _, tt := range []struct{ dir, want string }{
		{null, null + ": not a directory (a character device)"},
		{out, "kernel 7.3: write " + fifo + ": not a regular file (a named pipe)"},
	} {
		if err := CheckOutDir(tt.dir, "", []string{"6.1", "7.3"}); !errors.Is(err, files.ErrRefused) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckOutDir(%s): %v, want %q", tt.dir, err, tt.want)
		}
	}
	if _, err := WriteFile(out, Observation{Name: "7.3", Doc: testDoc()}); !errors.Is(err, files.ErrRefused) {
		t.Errorf("WriteFile over a FIFO: %v", err)
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode().Type() != os.ModeNamedPipe {
		t.Errorf("the FIFO is now %v (%v)", st.Mode(), err)
	}
	if err := CheckOutDir(filepath.Join(dir, "new"), "", []string{"7.3"}); err != nil {
		t.Errorf("a new directory: %v", err)
	}
}
