package bzimage

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// TestCachedImages reads the vmlinux of every bzImage in the user's image cache (skipped when
// there is none) and checks that it is an ELF with a PVH entry, as Debian's amd64 kernels
// (CONFIG_PVH=y) all have; and that data that is no bzImage is refused.
func TestCachedImages(t *testing.T) {
	if _, err := Vmlinux(context.Background(), []byte("not a kernel")); err == nil {
		t.Error("Vmlinux of a text file: no error")
	}
	if ok, err := HasPVHEntry([]byte("\x7fELF garbage")); ok || err == nil {
		t.Errorf("HasPVHEntry of garbage = %v, %v", ok, err)
	}
	cache, err := os.UserCacheDir()
	testenv.Optional(t, err, "set HOME or XDG_CACHE_HOME")
	images, _ := filepath.Glob(filepath.Join(cache, "bpfmatrix", "images", "*", "vmlinuz"))
	n := 0
	for _, p := range images {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !Is(data) {
			continue // an arm64 Image
		}
		n++
		vmlinux, err := Vmlinux(context.Background(), data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if ok, err := HasPVHEntry(vmlinux); !ok || err != nil {
			t.Errorf("%s: PVH entry %v, %v", p, ok, err)
		}
	}
	if n == 0 {
		testenv.Optional(t, os.ErrNotExist, "bpfmatrix kernels fetch: no cached bzImage")
	}
	t.Logf("%d cached bzImages, each with a PVH entry", n)
}

// TestHasNote reads note segments: the note found by name and type, past others, and none in a
// truncated segment.
func TestHasNote(t *testing.T) {
	note := func(name string, typ uint32, desc int) []byte {
		b := binary.LittleEndian.AppendUint32(nil, uint32(len(name)+1))
		b = binary.LittleEndian.AppendUint32(b, uint32(desc))
		b = binary.LittleEndian.AppendUint32(b, typ)
		b = append(b, name...)
		b = append(b, make([]byte, (len(name)+1+3)&^3-len(name))...)
		return append(b, make([]byte, (desc+3)&^3)...)
	}
	pvh := note("Xen", xenElfnotePhys32Entry, 4)
	for _, tc := range []struct {
		name  string
		notes []byte
		want  bool
	}{
		{"alone", pvh, true},
		{"after others", append(append(note("GNU", 3, 20), note("Xen", 6, 6)...), pvh...), true},
		{"other type", note("Xen", 17, 8), false},
		{"other name", note("Linux", xenElfnotePhys32Entry, 4), false},
		{"truncated", pvh[:len(pvh)-2], false},
		{"empty", nil, false},
	} {
		if got := hasNote(tc.notes, binary.LittleEndian, "Xen", xenElfnotePhys32Entry); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
