package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// checkLoad checks a load run's settings: a plan with objects, and a host file for each.
func (cfg *Config) checkLoad() error {
	switch {
	case cfg.LoadPlan == nil && len(cfg.LoadObjects) > 0:
		return errors.New("harness: load objects without a load plan")
	case cfg.LoadPlan == nil:
		return nil
	case len(cfg.LoadPlan.Objects) == 0:
		return errors.New("harness: a load plan without objects")
	case len(cfg.LoadObjects) != len(cfg.LoadPlan.Objects):
		return fmt.Errorf("harness: %d load objects for a plan of %d", len(cfg.LoadObjects), len(cfg.LoadPlan.Objects))
	}
	return nil
}

// loadFiles returns the initramfs files of a load run: each object at its place under
// wire.ObjectDir and the plan, naming those places, at wire.LoadPlanPath. The plan's JSON is
// written to dir (the run's own directory), which the archive copies it from.
func loadFiles(cfg *Config, dir string) ([]File, error) {
	plan := *cfg.LoadPlan
	plan.Objects = slices.Clone(plan.Objects)
	var files []File
	for i := range plan.Objects {
		// A directory per object: two objects of the same file name (from two directories)
		// stay apart, and each keeps its name, which the agent's answers and logs show.
		p := path.Join(wire.ObjectDir, strconv.Itoa(i), guestFileName(plan.Objects[i].Name))
		plan.Objects[i].Path = p
		files = append(files, File{Name: p, Source: cfg.LoadObjects[i], Mode: 0o644})
	}
	data, err := json.Marshal(&plan)
	if err != nil {
		return nil, fmt.Errorf("harness: load plan: %w", err)
	}
	planFile := filepath.Join(dir, "load.json")
	if err := os.WriteFile(planFile, data, 0o644); err != nil {
		return nil, fmt.Errorf("harness: load plan: %w", err)
	}
	return append(files, File{Name: wire.LoadPlanPath, Source: planFile, Mode: 0o644}), nil
}

// guestFileName is the base name of a user's object name, usable as one path element in the
// archive; a name that has none ("", "..", a name with a NUL) becomes "object.o".
func guestFileName(name string) string {
	base := path.Base(filepath.ToSlash(name))
	if base == "." || base == ".." || base == "/" || strings.ContainsRune(base, 0) {
		return "object.o"
	}
	return base
}

// received is the number of answers a guest's document holds: probe results or loads.
func received(doc *observation.Document) int { return len(doc.Results) + len(doc.Loads) }
