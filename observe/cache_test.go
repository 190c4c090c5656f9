package observe

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/files"

	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// TestCache stores and finds an observation under its key, misses under any other key, and
// detects and removes entries that were cut short, edited or moved.
func TestCache(t *testing.T) {
	const image, agent = "aaaa1111", "bbbb2222cccc3333dddd"
	obs := testDoc()

	tests := []struct {
		name    string
		damage  func(path string) error
		corrupt bool
	}{
		{"intact", func(string) error { return nil }, false},
		{"cut short", func(p string) error {
			b, _ := os.ReadFile(p)
			return os.WriteFile(p, b[:len(b)/2], 0o644)
		}, true},
		{"edited", func(p string) error {
			b, _ := os.ReadFile(p)
			return os.WriteFile(p, []byte(strings.Replace(string(b), "supported", "not_for_type", 1)), 0o644)
		}, true},
		{"under another key", func(p string) error {
			c := Cache{Dir: t.TempDir()}
			if err := c.Put("eeee", agent, obs); err != nil {
				return err
			}
			b, _ := os.ReadFile(c.path("eeee", agent))
			return os.WriteFile(p, b, 0o644)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Cache{Dir: t.TempDir()}
			if got, err := c.Get(image, agent); got != nil || err != nil {
				t.Fatalf("empty cache: %v, %v", got, err)
			}
			if err := c.Put(image, agent, obs); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Get(image, "ffff"); got != nil || err != nil {
				t.Fatalf("another agent: %v, %v", got, err)
			}
			if err := tt.damage(c.path(image, agent)); err != nil {
				t.Fatal(err)
			}
			got, err := c.Get(image, agent)
			if tt.corrupt {
				if got != nil || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("damaged entry: %v, %v", got, err)
				}
				if _, err := os.Stat(c.path(image, agent)); !os.IsNotExist(err) {
					t.Errorf("the damaged entry was not removed: %v", err)
				}
				return
			}
			if err != nil || got == nil || len(got.Results) != 1 || got.Results[0].Detail != obs.Results[0].Detail {
				t.Fatalf("intact entry: %+v, %v", got, err)
			}
		})
	}
}

// TestCachePrune: storing a kernel's observations removes that kernel's entries of other agents
// that have not been used for two weeks, and keeps recent ones and other kernels'.
func TestCachePrune(t *testing.T) {
	c := Cache{Dir: t.TempDir()}
	obs := testDoc()
	old := time.Now().Add(-30 * 24 * time.Hour)
	for _, k := range []struct{ image, agent string }{{"img1", "oldagent"}, {"img1", "recentagent"}, {"img2", "oldagent"}} {
		if err := c.Put(k.image, k.agent, obs); err != nil {
			t.Fatal(err)
		}
	}
	os.Chtimes(c.path("img1", "oldagent"), old, old)
	os.Chtimes(c.path("img2", "oldagent"), old, old)
	if err := c.Put("img1", "newagent", obs); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		image, agent string
		kept         bool
	}{{"img1", "oldagent", false}, {"img1", "recentagent", true}, {"img1", "newagent", true}, {"img2", "oldagent", true}} {
		_, err := os.Stat(c.path(k.image, k.agent))
		if (err == nil) != k.kept {
			t.Errorf("%s-%s: kept %v, want %v", k.image, k.agent, err == nil, k.kept)
		}
	}
	// A cache hit counts as a use.
	os.Chtimes(c.path("img2", "oldagent"), old, old)
	if got, err := c.Get("img2", "oldagent"); got == nil || err != nil {
		t.Fatal(got, err)
	}
	if st, _ := os.Stat(c.path("img2", "oldagent")); time.Since(st.ModTime()) > time.Hour {
		t.Errorf("a hit did not mark the entry as used: %v", st.ModTime())
	}
}

// testDoc is a small valid document: one program type, one result whose detail holds the
// characters JSON encoders like to escape.
func testDoc() *observation.Document {
	return &observation.Document{
		Facts: observation.Facts{
			Kernel:    observation.KernelInfo{Release: "7.3.4+deb13-cloud-amd64", Version: "7.3.4"},
			ProgTypes: []observation.ProgTypeInfo{{Name: "xdp", Present: true, Variants: []observation.VariantInfo{{Name: "xdp", Usable: true}}}},
		},
		Results: []observation.Result{{HelperID: 1, Helper: "map_lookup_elem", ProgType: "xdp", Variant: "xdp",
			Outcome: observation.Supported, Detail: "R1 type=scalar expected=map_ptr & <ptr_>"}},
		Guest: &observation.Guest{Status: observation.StatusOK},
	}
}

// TestFaultCacheReadOnly: a corrupt entry in a cache that cannot be written is reported as kept,
// not as removed.
func TestFaultCacheReadOnly(t *testing.T) {
	testenv.NeedRoot(t)
	c := Cache{Dir: t.TempDir()}
	if err := c.Put("img", "agent", testDoc()); err != nil {
		t.Fatal(err)
	}
	p := c.path("img", "agent")
	testenv.WriteFile(t, p, []byte("{"))
	if err := makeReadOnly(t, c.Dir); err != nil {
		t.Fatal(err)
	}
	_, err := c.Get("img", "agent")
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "could not remove") || strings.Contains(err.Error(), "(removed") {
		t.Fatalf("error %v: want a corrupt entry reported as not removed", err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("entry: %v", err)
	}
}

// makeReadOnly bind-mounts dir read-only onto itself until the test ends: permissions alone do
// not stop root, who runs these tests.
func makeReadOnly(t *testing.T, dir string) error {
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, "")
}

// TestFaultCacheEntryWords: an empty entry, or one whose header names no key, is reported as
// what it is, not as an entry "stored under another key"; it is removed like any corrupt entry.
func TestFaultCacheEntryWords(t *testing.T) {
	const image, agent = "aaaa1111", "bbbb2222cccc3333dddd"
	tests := []struct{ content, want string }{
		{"", "the entry is empty"},
		{"\n\n", "the entry is empty"},
		{"{}\n{}\n", "the header names no key or checksum"},
		{"null\n{}\n", "the header names no key or checksum"},
		{"{\"image_sha256\":\"aaaa1111\"}\n{}\n", "the header names no key or checksum"},
		{"{\"image_sha256\":\"eeee\",\"agent_sha256\":\"x\",\"content_sha256\":\"y\"}\n{}\n", "stored under another key"},
		{"{", "no header line"},
	}
	for _, tt := range tests {
		c := Cache{Dir: t.TempDir()}
		testenv.WriteFile(t, c.path(image, agent), []byte(tt.content))
		got, err := c.Get(image, agent)
		if got != nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, %v; want ErrCorrupt saying %q", tt.content, got, err, tt.want)
		}
		if _, err := os.Stat(c.path(image, agent)); !os.IsNotExist(err) {
			t.Errorf("%q: not removed (%v)", tt.content, err)
		}
	}
}

// TestFaultCacheEntryFIFO: a cache entry that is a FIFO is a miss with a note, not a read that
// waits for a writer forever.
func TestFaultCacheEntryFIFO(t *testing.T) {
	c := Cache{Dir: t.TempDir()}
	const image, agent = "aaaa1111", "bbbb2222cccc3333dddd"
	testenv.FIFO(t, c.path(image, agent))
	get := func() error {
		_, err := c.Get(image, agent)
		return err
	}
	if err := testenv.Within(t, "Get of a FIFO entry", 5*time.Second, get); !errors.Is(err, files.ErrRefused) || !strings.Contains(err.Error(), "not a regular file (a named pipe)") {
		t.Errorf("Get: %v", err)
	}
}
