package harness

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// TestPVHKernel checks which images boot through their vmlinux's PVH entry: a bzImage that
// is not a whole kernel is booted as it is with the reason, anything else silently.
func TestPVHKernel(t *testing.T) {
	dir := t.TempDir()
	header := make([]byte, 0x1000)
	copy(header[0x202:], "HdrS")
	header[0x206], header[0x207] = 0x0f, 0x02 // boot protocol 2.15, a payload of zeros
	header[0x24c] = 0xff
	for _, tc := range []struct {
		name, data, why string
	}{
		{"not a bzImage", "an arm64 Image or a vmlinux", ""},
		{"bzImage with a payload of zeros", string(header), "no compression format"},
	} {
		path := testenv.WriteFile(t, filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")), []byte(tc.data))
		got, why := pvhKernel(context.Background(), path, dir)
		if got != "" || (tc.why == "") != (why == "") || !strings.Contains(why, tc.why) {
			t.Errorf("%s: %q, %q; want no vmlinux, reason containing %q", tc.name, got, why, tc.why)
		}
	}
	if got, why := pvhKernel(context.Background(), filepath.Join(dir, "missing"), dir); got != "" || why == "" {
		t.Errorf("a missing image: %q, %q", got, why)
	}
}
