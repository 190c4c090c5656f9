package observe

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

func TestMain(m *testing.M) {
	fakeqemu.Main()
	os.Exit(m.Run())
}

// mayStayEmpty are the fields of a healthy guest's document that are rightly empty everywhere:
// a first boot that worked has no error, was not interrupted and had no failed attempts, only
// unclassified results keep their log, a module the guest loaded has no error, and no kernel of
// the matrix registers a struct_ops kind from a module (docs/attach-points.md), and a probe's
// document holds no loads (a load run's are checked by TestLoadCachedSecondRun). The recorded
// stream is an exhaustive probe's (recorded before the probe had a plan): none of its answers is
// taken from a base variant or a kfunc class sentinel (probe.TestPlannedEqualsExhaustive and the
// harness's check those).
var mayStayEmpty = map[string]bool{
	"Guest.Error": true, "Guest.Interrupted": true, "Guest.FailedAttempts": true, "Loads": true,
	"Results[].Log": true, "Modules[].Error": true, "StructOps[].Module": true, "Results[].From": true, "Results[].Like": true,
	// Only a floor guest (make bench) fills it; a probe never does.
	"Passes.Floor": true,
	// The recorded guest is amd64, whose documents name no architecture (as before there were
	// two); an arm64 guest's is checked by the harness's TestARM64Guest.
	"Guest.Arch": true,
}

// TestProducerFillsEveryField takes a real guest's output (a recorded 7.3 stream, its console
// and config, the image facts of its kernels.lock pin) through the harness, as a fake QEMU
// replays it, and through the observation cache, and fails on any field of the document that
// no instance filled: a field the kernel, the image or the guest could have filled and that
// some producer forgot (as the Debian version once was).
func TestProducerFillsEveryField(t *testing.T) {
	lock, err := vmimages.LoadLock(filepath.Join("..", "kernels.lock"))
	if err != nil {
		t.Fatal(err)
	}
	le := lock.Find("7.3")
	if le == nil {
		t.Fatal("kernels.lock pins no 7.3")
	}
	rec, err := filepath.Abs(filepath.Join("testdata", "guest-7.3"))
	if err != nil {
		t.Fatal(err)
	}
	console, err := os.ReadFile(filepath.Join(rec, "console.txt"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeqemu.EnvMode, fakeqemu.Replay)
	t.Setenv(fakeqemu.EnvStream, filepath.Join(rec, "results.stream"))
	t.Setenv(fakeqemu.EnvConsole, string(console))
	cfg := harness.DefaultConfig()
	cfg.QEMU, cfg.Accel, cfg.Parallel, cfg.Retries = os.Args[0], "tcg", 1, 0
	cfg.Agent = filepath.Join(rec, "config") // any file: the fake does not boot it
	// The image as the fetcher describes a cached kernel, through the pipeline's own hand-off.
	k := HarnessKernel(vmimages.Image{
		Name: "7.3", Package: le.Package, Version: le.Version, DebianVersion: le.DebianVersion, Release: le.Release,
		SHA256: le.SHA256, Path: filepath.Join(rec, "results.stream"), ConfigPath: filepath.Join(rec, "config"),
	})
	results, err := harness.Run(context.Background(), cfg, []harness.Kernel{k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := results[0]
	if !r.OK() {
		t.Fatalf("replayed guest failed: %s", r.Doc.Guest.Error)
	}
	c := Cache{Dir: t.TempDir()}
	if err := c.Put(le.SHA256, "agent", &r.Doc); err != nil {
		t.Fatal(err)
	}
	doc, err := c.Get(le.SHA256, "agent")
	if err != nil || doc == nil {
		t.Fatalf("cache: %v, %v", doc, err)
	}
	if len(doc.Results) != 6454 {
		t.Errorf("%d results through harness and cache, want the 6454 recorded", len(doc.Results))
	}
	filled := map[string]bool{}
	walk(reflect.ValueOf(*doc), "", filled)
	var empty []string
	for path, ok := range filled {
		if !ok && !mayStayEmpty[path] {
			empty = append(empty, path)
		}
	}
	sort.Strings(empty)
	if len(empty) > 0 {
		t.Errorf("fields no producer filled: %s", strings.Join(empty, ", "))
	}
}

// walk records, for every field path below v, whether any instance holds a non-zero value.
// Slices of structs are walked element by element under "Field[]".
func walk(v reflect.Value, path string, filled map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walk(v.Elem(), path, filled)
		}
		return
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			p := f.Name
			if f.Anonymous {
				p = ""
			}
			if path != "" && p != "" {
				p = path + "." + p
			} else if path != "" {
				p = path
			}
			if f.Anonymous {
				walk(v.Field(i), p, filled)
				continue
			}
			fv := v.Field(i)
			filled[p] = filled[p] || !fv.IsZero() && !(fv.Kind() == reflect.Slice && fv.Len() == 0)
			walk(fv, p, filled)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), path+"[]", filled)
			}
		}
	}
}

// TestFaultNarrowProbeNotCached: a probe narrowed to some helpers (bpfmatrix run --helpers) is
// not the kernel's observation and must not be cached, or a later registry check would take it
// for the whole kernel; a full probe is cached.
func TestFaultNarrowProbeNotCached(t *testing.T) {
	rec, err := filepath.Abs(filepath.Join("testdata", "guest-7.3"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	img := make([]byte, 0x1000)
	copy(img[0x202:], "HdrS")
	img[0x20e], img[0x20f] = 0x00, 0x03
	copy(img[0x500:], "7.3.4-fake (test@example.org) #1 SMP\x00")
	testenv.WriteFile(t, filepath.Join(dir, "bzImage"), img)
	kfile := testenv.WriteFile(t, filepath.Join(dir, "kernels.yaml"), []byte("kernels:\n  - name: fake\n    path: bzImage\n"))
	t.Setenv(fakeqemu.EnvMode, fakeqemu.Replay)
	t.Setenv(fakeqemu.EnvStream, filepath.Join(rec, "results.stream"))
	for _, tt := range []struct {
		helpers []int
		cached  bool
	}{{[]int{1}, false}, {nil, true}} {
		cache := t.TempDir()
		hcfg := harness.DefaultConfig()
		hcfg.QEMU, hcfg.Accel, hcfg.Retries, hcfg.Agent = os.Args[0], "tcg", 0, filepath.Join(rec, "config")
		hcfg.Helpers = tt.helpers
		obs, err := Run(context.Background(), Options{KernelsFile: kfile, CacheDir: cache, Refresh: true, Harness: hcfg})
		if err != nil || len(obs) != 1 || obs[0].Failed {
			t.Fatalf("helpers %v: %v %+v", tt.helpers, err, obs)
		}
		entries, _ := filepath.Glob(filepath.Join(cache, "observations", "*.json"))
		if (len(entries) > 0) != tt.cached {
			t.Errorf("helpers %v: %d cache entries, want cached=%v", tt.helpers, len(entries), tt.cached)
		}
	}
}
