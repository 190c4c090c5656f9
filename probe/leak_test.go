package probe

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loadedProgramIDs lists the ids of every BPF program loaded in the kernel.
func loadedProgramIDs(t *testing.T) []uint32 {
	t.Helper()
	var ids []uint32
	// union bpf_attr for BPF_PROG_GET_NEXT_ID: start_id, next_id, open_flags.
	var attr struct{ startID, nextID, openFlags uint32 }
	for {
		_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_GET_NEXT_ID, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		if errors.Is(errno, unix.ENOENT) {
			return ids
		}
		if errno != 0 {
			t.Fatalf("BPF_PROG_GET_NEXT_ID: %v", errno)
		}
		ids = append(ids, attr.nextID)
		attr.startID = attr.nextID
	}
}

// TestNoProgramLeftLoaded probes everything and then checks that every program it loaded is gone.
// Program ids are never reused, so a new id still listed after the probe is one it left behind.
// Programs the kernel frees asynchronously, or that another test process loads meanwhile, vanish
// within moments; a leaked one stays.
func TestNoProgramLeftLoaded(t *testing.T) {
	requireRoot(t)
	before := loadedProgramIDs(t)
	if _, err := Probe(context.Background(), testRegistry(t), Options{}); err != nil {
		t.Fatal(err)
	}
	var leaked []uint32
	for range 50 {
		leaked = leaked[:0]
		for _, id := range loadedProgramIDs(t) {
			if !slices.Contains(before, id) {
				leaked = append(leaked, id)
			}
		}
		if len(leaked) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("programs %v are still loaded 5 s after the probe", leaked)
}

// TestLeakCheckSeesPrograms makes sure the check above can fail: a program kept open is listed.
func TestLeakCheckSeesPrograms(t *testing.T) {
	requireRoot(t)
	before := loadedProgramIDs(t)
	ext, err := newExtTarget(newLoader(defaultLogSize))
	if err != nil {
		t.Fatal(err)
	}
	during := loadedProgramIDs(t)
	ext.Close()
	if len(during) <= len(before) {
		t.Fatalf("%d programs loaded before and %d while the ext target was open", len(before), len(during))
	}
}
