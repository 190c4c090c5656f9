package observe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/harness/wire/wiretest"
	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// fakeImages writes a kernels.yaml of local images whose release names the fake QEMU's mode
// for each (fakeqemu.ByImage).
func fakeImages(t *testing.T, modes ...string) string {
	t.Helper()
	dir := t.TempDir()
	y := "kernels:\n"
	for _, m := range modes {
		img := make([]byte, 0x1000)
		copy(img[0x202:], "HdrS")
		img[0x20e], img[0x20f] = 0x00, 0x03
		copy(img[0x500:], "7.3.4-fake-"+m+" (test@example.org) #1 SMP\x00")
		testenv.WriteFile(t, filepath.Join(dir, m+".img"), img)
		y += "  - name: " + m + "\n    path: " + m + ".img\n"
	}
	kfile := testenv.WriteFile(t, filepath.Join(dir, "kernels.yaml"), []byte(y))
	t.Setenv(fakeqemu.EnvMode, fakeqemu.ByImage)
	return kfile
}

// testObject writes a file and returns it as an object to load.
func testObject(t *testing.T, name, content string) LoadObject {
	t.Helper()
	p := testenv.WriteFile(t, filepath.Join(t.TempDir(), name), []byte(content))
	s := sha256.Sum256([]byte(content))
	return LoadObject{Path: p, Name: name, SHA256: hex.EncodeToString(s[:])}
}

func answer(obj LoadObject, prog string, cause observation.Cause) observation.ProgramLoad {
	return observation.ProgramLoad{Object: obj.Name, ObjectSHA256: obj.SHA256, Program: prog, Section: "xdp", ProgType: "xdp",
		Loaded: cause == "", Cause: cause, Seconds: 0.01}
}

// loadOpts returns the options of a load run over kfile with the fake QEMU, counting the
// guests that boot per kernel.
func loadOpts(t *testing.T, kfile, cache string, boots map[string]int, objs ...LoadObject) LoadOptions {
	hcfg := harness.DefaultConfig()
	hcfg.QEMU, hcfg.Accel, hcfg.Retries, hcfg.Parallel = os.Args[0], "tcg", 0, 1
	hcfg.Agent = kfile // any file: the fake boots nothing
	var mu sync.Mutex
	return LoadOptions{
		Options: Options{KernelsFile: kfile, CacheDir: cache, Harness: hcfg, OnEvent: func(e Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.Phase == PhaseBoot {
				boots[e.Kernel]++
			}
			if e.Phase == PhaseDone && e.Load == nil {
				t.Errorf("kernel %s: done event without its answers", e.Kernel)
			}
		}},
		Objects: objs, Set: []string{"count.max_entries=4"},
	}
}

// TestLoadCachedSecondRun: a load run boots each kernel once with every object, keeps a kernel
// whose guest fails failed (and uncached), and caches each object's answers; a second run with
// one more object boots only for that object (the first object's answer comes from the cache
// even though the guest would now answer otherwise), and a third boots nothing.
func TestLoadCachedSecondRun(t *testing.T) {
	kfile := fakeImages(t, fakeqemu.Replay, fakeqemu.ExitSilent)
	cache := t.TempDir()
	a, b := testObject(t, "a.o", "object a"), testObject(t, "b.o", "object b")
	// The first guest answers for a (and, unasked, for b: such lines are not taken).
	wiretest.ReplayLoads(t, answer(a, "pass", ""), answer(a, "count", observation.CauseHelperUnknown), answer(b, "drop", ""))
	boots := map[string]int{}
	obs, err := Load(context.Background(), loadOpts(t, kfile, cache, boots, a))
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 2 || obs[0].Name != fakeqemu.Replay || obs[1].Name != fakeqemu.ExitSilent {
		t.Fatalf("observations %+v", obs)
	}
	ok, bad := obs[0], obs[1]
	if ok.Failed || ok.Cached || len(ok.Loads) != 2 || ok.Loads[1].Cause != observation.CauseHelperUnknown || ok.Guest.Release == "" || ok.Image.SHA256 == "" {
		t.Fatalf("healthy kernel: %+v", ok)
	}
	if !bad.Failed || len(bad.Loads) != 0 || !strings.Contains(bad.Guest.Error, "qemu exited") {
		t.Fatalf("failed kernel: failed %v, loads %d, error %q", bad.Failed, len(bad.Loads), bad.Guest.Error)
	}
	if boots[fakeqemu.Replay] != 1 || boots[fakeqemu.ExitSilent] != 1 {
		t.Fatalf("boots %v, want one per kernel", boots)
	}
	if n := loadEntries(t, cache); n != 1 {
		t.Fatalf("%d cache entries after the first run, want 1 (a on the healthy kernel only)", n)
	}

	// Now the guest would refuse a: the answer must come from the cache, b's from the boot.
	wiretest.ReplayLoads(t, answer(a, "pass", observation.CauseVerifier), answer(b, "drop", observation.CauseMap))
	boots = map[string]int{}
	obs, err = Load(context.Background(), loadOpts(t, kfile, cache, boots, a, b))
	if err != nil {
		t.Fatal(err)
	}
	ok = obs[0]
	got := ""
	for _, l := range ok.Loads {
		got += l.Object + ":" + l.Program + ":" + string(l.Cause) + " "
	}
	if want := "a.o:pass: a.o:count:helper_unknown b.o:drop:map "; got != want || ok.Cached || ok.Failed {
		t.Fatalf("second run: loads %q (cached %v, failed %v), want %q", got, ok.Cached, ok.Failed, want)
	}
	if boots[fakeqemu.Replay] != 1 || !obs[1].Failed {
		t.Fatalf("second run: boots %v, failed kernel %v", boots, obs[1].Failed)
	}
	if n := loadEntries(t, cache); n != 2 {
		t.Fatalf("%d cache entries after the second run, want 2", n)
	}

	// Everything cached: nothing boots (QEMU is not even looked for), and a file given twice
	// under two names answers twice, under each name.
	c := testObject(t, "c.o", "object b")
	opts := loadOpts(t, kfile, cache, boots, a, b, c)
	opts.Kernels = []string{fakeqemu.Replay}
	opts.NeedQEMU = func() error { return errors.New("no QEMU here") }
	obs, err = Load(context.Background(), opts)
	if err != nil {
		t.Fatalf("third run booted: %v", err)
	}
	if o := obs[0]; !o.Cached || o.Failed || len(o.Loads) != 4 || o.Loads[3].Object != "c.o" || o.Loads[3].Cause != observation.CauseMap || o.Guest.Release == "" {
		t.Fatalf("third run: %+v", o)
	}
	// Other --set words are another key: that run must boot.
	opts.Set = []string{"count.max_entries=8"}
	if _, err := Load(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "no QEMU here") {
		t.Fatalf("a run with other --set words did not boot: %v", err)
	}
}

func loadEntries(t *testing.T, cache string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(cache, "observations", "loads", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// TestLoadCacheKey: an object's answers are found under the same key only: another image,
// agent, object, --set word or attach misses, and the object's name matters only when a --set
// word names an object.
func TestLoadCacheKey(t *testing.T) {
	obj := LoadObject{Path: "x", Name: "a.o", SHA256: strings.Repeat("a", 64)}
	doc := &observation.Document{
		Facts: observation.Facts{Kernel: observation.KernelInfo{Release: "6.12.1"}},
		Loads: []observation.ProgramLoad{answer(obj, "pass", "")},
		Guest: &observation.Guest{Status: observation.StatusOK},
	}
	set := []string{"pass.target=f"}
	base := loadKey("img", "agent", obj, set, false)
	renamed := obj
	renamed.Name = "b.o"
	other := obj
	other.SHA256 = strings.Repeat("b", 64)
	tests := []struct {
		name string
		key  LoadKey
		hit  bool
	}{
		{"same", loadKey("img", "agent", obj, []string{"pass.target=f"}, false), true},
		{"renamed, no word names an object", loadKey("img", "agent", renamed, set, false), true},
		{"another image", loadKey("img2", "agent", obj, set, false), false},
		{"another agent", loadKey("img", "agent2", obj, set, false), false},
		{"another object", loadKey("img", "agent", other, set, false), false},
		{"another word", loadKey("img", "agent", obj, []string{"pass.target=g"}, false), false},
		{"no words", loadKey("img", "agent", obj, nil, false), false},
		{"attach", loadKey("img", "agent", obj, set, true), false},
	}
	c := Cache{Dir: t.TempDir()}
	if err := c.PutLoad(base, doc); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		got, err := c.GetLoad(tt.key)
		if err != nil || (got != nil) != tt.hit {
			t.Errorf("%s: hit %v (%v), want %v", tt.name, got != nil, err, tt.hit)
		}
	}
	// With a word for one object, the name is part of the key.
	named := []string{"a.o:pass.target=f"}
	if err := c.PutLoad(loadKey("img", "agent", obj, named, false), doc); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		obj LoadObject
		hit bool
	}{{obj, true}, {renamed, false}} {
		if got, err := c.GetLoad(loadKey("img", "agent", tt.obj, named, false)); err != nil || (got != nil) != tt.hit {
			t.Errorf("object-named word, %s: hit %v (%v), want %v", tt.obj.Name, got != nil, err, tt.hit)
		}
	}
	// A probe entry of the same image and agent is not a load entry, nor the reverse.
	if got, _ := c.Get("img", "agent"); got != nil {
		t.Error("a load entry answered a probe's Get")
	}
}

// TestFaultLoadCacheEntry: a load entry that does not verify (edited, stored under another key,
// a cause word no bpfmatrix writes) is removed and reported, never believed.
func TestFaultLoadCacheEntry(t *testing.T) {
	obj := LoadObject{Name: "a.o", SHA256: strings.Repeat("a", 64)}
	doc := &observation.Document{
		Facts: observation.Facts{Kernel: observation.KernelInfo{Release: "6.12.1"}},
		Loads: []observation.ProgramLoad{answer(obj, "pass", observation.CauseMap)},
		Guest: &observation.Guest{Status: observation.StatusOK},
	}
	k := loadKey("img", "agent", obj, nil, false)
	for _, tt := range []struct {
		name     string
		old, new string
		want     string
	}{
		{"edited", `"cause":"map"`, `"cause":"btf"`, "checksum mismatch"},
		{"another key", `"agent_sha256":"agent"`, `"agent_sha256":"other"`, "stored under another key"},
		{"unknown cause", `"cause":"map"`, `"cause":"gremlins"`, `unknown cause "gremlins"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Cache{Dir: t.TempDir()}
			if err := c.PutLoad(k, doc); err != nil {
				t.Fatal(err)
			}
			p := c.loadPath(k)
			data, _ := os.ReadFile(p)
			data = bytes.Replace(data, []byte(tt.old), []byte(tt.new), 1)
			if tt.name == "unknown cause" {
				// A consistent entry: the checksum matches the bad word.
				head, body, _ := bytes.Cut(data, []byte("\n"))
				body = bytes.TrimSuffix(body, []byte("\n"))
				head = bytes.Replace(head, []byte(observation.Checksum(bytes.Replace(body, []byte(tt.new), []byte(tt.old), 1))), []byte(observation.Checksum(body)), 1)
				data = append(append(append(head, '\n'), body...), '\n')
			}
			os.WriteFile(p, data, 0o644)
			got, err := c.GetLoad(k)
			if got != nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("GetLoad = %v, %v; want ErrCorrupt saying %q", got, err, tt.want)
			}
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("the corrupt entry stayed: %v", err)
			}
		})
	}
}

// TestLoadCancel: a load run cancelled while its guest runs stops the guest, returns the kernel
// as failed and interrupted, caches nothing, and leaves the kernels not yet started failed.
func TestLoadCancel(t *testing.T) {
	kfile := fakeImages(t, fakeqemu.Hang, fakeqemu.Replay)
	cache := t.TempDir()
	a := testObject(t, "a.o", "object a")
	wiretest.ReplayLoads(t, answer(a, "pass", ""))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := loadOpts(t, kfile, cache, map[string]int{}, a)
	count := opts.OnEvent
	opts.OnEvent = func(e Event) {
		count(e)
		if e.Phase == PhaseBoot && e.Kernel == fakeqemu.Hang {
			cancel()
		}
	}
	// The hanging kernel boots first (newest first, then file order) and alone (Parallel 1).
	obs, err := Load(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 2 || !obs[0].Failed || !obs[0].Guest.Interrupted || !obs[1].Failed || !strings.Contains(obs[1].Guest.Error, "not run") {
		t.Fatalf("observations after cancel: %+v / %+v", obs[0].Guest, obs[1].Guest)
	}
	if n := loadEntries(t, cache); n != 0 {
		t.Errorf("%d cache entries after a cancelled run", n)
	}
}

// TestLoadCutKeepsAnswers: a guest whose stream is cut is a failed kernel that keeps the answers
// it sent before the cut (each is the kernel's word on one program) and caches none of them, so a
// second run boots it again.
func TestLoadCutKeepsAnswers(t *testing.T) {
	kfile := fakeImages(t, fakeqemu.Cut)
	cache := t.TempDir()
	a := testObject(t, "a.o", "object a")
	var sent []observation.ProgramLoad
	for _, p := range []string{"p1", "p2", "p3", "p4", "p5", "p6"} {
		sent = append(sent, answer(a, p, ""))
	}
	wiretest.ReplayLoads(t, sent...)
	for run := 1; run <= 2; run++ {
		boots := map[string]int{}
		obs, err := Load(context.Background(), loadOpts(t, kfile, cache, boots, a))
		if err != nil {
			t.Fatal(err)
		}
		o := obs[0]
		if !o.Failed || o.Cached || boots[fakeqemu.Cut] != 1 {
			t.Fatalf("run %d: failed %v, cached %v, boots %v", run, o.Failed, o.Cached, boots)
		}
		if len(o.Loads) == 0 || len(o.Loads) >= len(sent) || o.Loads[0].Program != "p1" {
			t.Fatalf("run %d: %d answers kept of the %d sent before the cut: %+v", run, len(o.Loads), len(sent), o.Loads)
		}
	}
}
