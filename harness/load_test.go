package harness

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/harness/wire/wiretest"
	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// loadPlanConfig returns a config whose load plan holds the objects named, each a small file
// of its own in dir; two of the same base name come from two directories.
func loadPlanConfig(t *testing.T, dir string, names ...string) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Agent = filepath.Join(dir, "agent")
	os.WriteFile(cfg.Agent, []byte("agent"), 0o755)
	cfg.LoadPlan = &wire.LoadPlan{Set: []string{"prog.target=dummy_x"}, Attach: true}
	for i, n := range names {
		src := filepath.Join(dir, "src", strings.Repeat("d", i+1), "file.o")
		os.MkdirAll(filepath.Dir(src), 0o755)
		testenv.WriteFile(t, src, []byte("object "+n))
		cfg.LoadPlan.Objects = append(cfg.LoadPlan.Objects, wire.LoadObject{Name: n, SHA256: strings.Repeat("a", i+1)})
		cfg.LoadObjects = append(cfg.LoadObjects, src)
	}
	return cfg
}

// TestLoadInitramfs: a load run's initramfs holds the agent, each object under wire.ObjectDir
// with its own contents and its name, and the plan at wire.LoadPlanPath naming those places;
// the caller's plan is not changed.
func TestLoadInitramfs(t *testing.T) {
	dir := t.TempDir()
	cfg := loadPlanConfig(t, dir, "xdp.o", "some/dir/xdp.o", "..", "")
	initrd := filepath.Join(dir, "initrd")
	if err := writeInitramfs(&cfg, initrd); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(initrd)
	files := map[string][]byte{}
	for _, e := range readCPIO(t, b) {
		if e.mode&0o170000 == cpioReg {
			files["/"+e.name] = e.data
		}
	}
	if string(files["/init"]) != "agent" {
		t.Errorf("/init holds %q", files["/init"])
	}
	var plan wire.LoadPlan
	if err := json.Unmarshal(files[wire.LoadPlanPath], &plan); err != nil {
		t.Fatalf("plan at %s: %v", wire.LoadPlanPath, err)
	}
	if len(plan.Objects) != 4 || plan.Attach != true || len(plan.Set) != 1 {
		t.Fatalf("plan %+v", plan)
	}
	wantBase := []string{"xdp.o", "xdp.o", "object.o", "object.o"}
	seen := map[string]bool{}
	for i, o := range plan.Objects {
		if !strings.HasPrefix(o.Path, wire.ObjectDir+"/") || filepath.Base(o.Path) != wantBase[i] || seen[o.Path] {
			t.Errorf("object %d (%q) at %q", i, o.Name, o.Path)
		}
		seen[o.Path] = true
		if got := string(files[o.Path]); got != "object "+o.Name {
			t.Errorf("object %d at %s holds %q, want object %s", i, o.Path, got, o.Name)
		}
		if o.Name != cfg.LoadPlan.Objects[i].Name || o.SHA256 != cfg.LoadPlan.Objects[i].SHA256 {
			t.Errorf("object %d: %+v", i, o)
		}
		if cfg.LoadPlan.Objects[i].Path != "" {
			t.Errorf("the caller's plan was changed: %+v", cfg.LoadPlan.Objects[i])
		}
	}
	// A probe run's initramfs has no plan: the agent probes.
	cfg.LoadPlan, cfg.LoadObjects = nil, nil
	if err := writeInitramfs(&cfg, initrd); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(initrd)
	for _, e := range readCPIO(t, b) {
		if strings.HasPrefix("/"+e.name, "/bpfmatrix") {
			t.Errorf("probe initramfs holds %s", e.name)
		}
	}
}

// TestFaultLoadConfig: a load plan without objects, or whose objects and host files do not
// pair up, is refused before anything boots, and so is a missing object file.
func TestFaultLoadConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"no objects", func(c *Config) { c.LoadPlan.Objects, c.LoadObjects = nil, nil }, "without objects"},
		{"fewer files", func(c *Config) { c.LoadObjects = c.LoadObjects[:1] }, "1 load objects for a plan of 2"},
		{"files without plan", func(c *Config) { c.LoadPlan = nil }, "without a load plan"},
		{"missing file", func(c *Config) { c.LoadObjects[1] = filepath.Join(dir, "gone.o") }, "gone.o"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, k := fakeConfig(t, fakeqemu.Replay)
			lc := loadPlanConfig(t, t.TempDir(), "a.o", "b.o")
			cfg.LoadPlan, cfg.LoadObjects = lc.LoadPlan, lc.LoadObjects
			tt.set(&cfg)
			_, err := Run(context.Background(), cfg, []Kernel{k}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestLoadRunDecodes: a load-mode guest's result lines (replayed by the fake QEMU) arrive as the
// document's Loads, not its Results, and the document parses as a load document.
func TestLoadRunDecodes(t *testing.T) {
	cfg, k := fakeConfig(t, fakeqemu.Replay)
	lc := loadPlanConfig(t, t.TempDir(), "a.o")
	cfg.LoadPlan, cfg.LoadObjects = lc.LoadPlan, lc.LoadObjects
	loads := []observation.ProgramLoad{
		{Object: "a.o", ObjectSHA256: "a", Program: "p1", Section: "xdp", ProgType: "xdp", Loaded: true},
		{Object: "a.o", ObjectSHA256: "a", Program: "p2", Section: "kprobe/x", ProgType: "kprobe", Cause: observation.CauseAttachTarget, Reason: "no x"},
	}
	wiretest.ReplayLoads(t, loads...)
	var done Event
	results, err := Run(context.Background(), cfg, []Kernel{k}, func(e Event) {
		if e.Phase == "done" {
			done = e
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	r := results[0]
	if !r.OK() {
		t.Fatalf("guest failed: %s", r.Doc.Guest.Error)
	}
	if len(r.Doc.Results) != 0 || len(r.Doc.Loads) != 2 || r.Doc.Loads[1].Cause != observation.CauseAttachTarget || done.Results != 2 {
		t.Fatalf("results %d, loads %+v, done event counts %d", len(r.Doc.Results), r.Doc.Loads, done.Results)
	}
	data, err := observation.Encode(&r.Doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := observation.Parse("load", data); err != nil {
		t.Fatalf("a load run's document does not parse: %v", err)
	}
	assertEmpty(t, cfg.WorkDir)
}
