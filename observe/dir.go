package observe

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// ReadDir reads the per-kernel documents in dir (<name>.json, or <name>.json.gz as recorded
// observations are kept; report.json excluded), in file name order. An observation's Name is
// its kernels.yaml name whatever the document's architecture (kernelName), so that the amd64
// and arm64 documents of one kernel pair by what they say, not by how their files are named. Every file must parse: the error
// names each one that does not, and the observations of the others are returned beside it, so
// that a caller may choose to go on without them.
func ReadDir(dir string) ([]Observation, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("observations: %w", err)
	}
	gz, _ := filepath.Glob(filepath.Join(dir, "*.json.gz"))
	paths = append(paths, gz...)
	paths = slices.DeleteFunc(paths, func(p string) bool { return filepath.Base(p) == "report.json" })
	sort.Strings(paths)
	if len(paths) == 0 {
		return nil, fmt.Errorf("observations: no kernel files (*.json) in %s", dir)
	}
	// Parsing a few MB of JSON per kernel is most of a check's time: in parallel.
	obs := make([]Observation, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc, err := observation.ReadFile(p)
			if err != nil {
				errs[i] = fmt.Errorf("observations: %w", err)
				return
			}
			obs[i] = Observation{Name: kernelName(p, doc), Doc: doc, Cached: true, Failed: !doc.OK()}
		}()
	}
	wg.Wait()
	var out []Observation
	for i := range obs {
		if errs[i] == nil {
			out = append(out, obs[i])
		}
	}
	return out, errors.Join(errs...)
}

// kernelName is the kernels.yaml name of the kernel whose document doc is read from path: the
// file's name without .json(.gz) and, for an architecture other than amd64, without the
// -<arch> suffix FileName gives it ("6.12-arm64.json" holding an arm64 document is kernel
// "6.12"). A file named otherwise keeps its whole name.
func kernelName(path string, doc *observation.Document) string {
	name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".gz"), ".json")
	if arch := observation.ArchOf(doc); arch != observation.DefaultArch {
		if base, ok := strings.CutSuffix(name, "-"+string(arch)); ok && base != "" {
			return base
		}
	}
	return name
}

// FillImages completes the image facts of documents written before the guest block carried
// them all (the Debian package version) from the kernels.lock pins of the same image: the pin
// and the document name the same build when their image hashes agree.
func FillImages(obs []Observation, lock *vmimages.Lock) {
	if lock == nil {
		return
	}
	for _, o := range obs {
		g := o.Doc.Guest
		if g == nil || g.SHA256 == "" {
			continue
		}
		for _, le := range lock.Entries {
			if le.SHA256 != g.SHA256 {
				continue
			}
			if g.DebianVersion == "" {
				g.DebianVersion = le.DebianVersion
			}
			if g.Package == "" {
				g.Package = le.Package
			}
			break
		}
	}
}
