// Package observe gets each kernel's probe results: from the observation cache when the same
// kernel image was already probed by the same agent, otherwise by fetching the kernel and booting
// it in a QEMU guest. It is the one pipeline behind `make matrix`, `bpfmatrix verify` and the
// Ginkgo suite, so all three agree on what was observed and reuse each other's work.
package observe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// Options says which kernels to observe and how.
type Options struct {
	// KernelsFile is the kernels.yaml to read.
	KernelsFile string
	// Kernels names the kernels to observe; empty means every kernel of KernelsFile.
	Kernels []string
	// CacheDir holds kernel images and cached observations; empty means vmimages.DefaultCacheDir().
	CacheDir string
	// Offline forbids downloads (kernels must be pinned in kernels.lock and cached).
	Offline bool
	// Refresh ignores cached observations and boots every kernel.
	Refresh bool
	// Harness configures the guests. An empty Agent is found or built (harness.AgentBinary).
	Harness harness.Config
	// Log receives one line per step (fetches, cache hits, guests); nil discards them.
	Log io.Writer
	// OnEvent receives the guests' progress events, for a live display.
	OnEvent func(harness.Event)
	// NeedQEMU, when set, is called before the first guest boots; its error ends the run (QEMU
	// missing, say) while runs that are answered from the cache never call it.
	NeedQEMU func() error
}

// Observation is one kernel's per-kernel report (the probe's facts, results and the guest
// block, as `bpfmatrix run` writes DIR/<name>.json).
type Observation struct {
	Name string
	// Data is the JSON document.
	Data []byte
	// Cached is true when Data came from the cache and no guest was booted.
	Cached bool
	// Failed is true when the kernel could not be fetched or its guest failed.
	Failed bool
}

// Run observes the selected kernels and returns one Observation per kernel, in kernels.yaml
// order. A kernel that cannot be fetched or whose guest fails is an Observation with Failed set
// and the reason in its guest block; the others are unaffected. The error reports problems that
// concern every kernel (a bad kernels.yaml, no QEMU, no agent binary).
func Run(ctx context.Context, opts Options) ([]Observation, error) {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	cfg, err := vmimages.LoadConfig(opts.KernelsFile)
	if err != nil {
		return nil, err
	}
	entries, err := cfg.Select(opts.Kernels)
	if err != nil {
		return nil, err
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		if cacheDir, err = vmimages.DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	fetcher := &vmimages.Fetcher{CacheDir: cacheDir, Offline: opts.Offline, Progress: log}
	images, fetchErr := fetcher.Fetch(ctx, entries)
	var fe *vmimages.FetchError
	if fetchErr != nil && !errors.As(fetchErr, &fe) {
		return nil, fetchErr
	}
	failedFetch := map[string]error{}
	if fe != nil {
		for i, k := range fe.Kernels {
			failedFetch[k] = fe.Errs[i]
		}
	}

	hcfg := opts.Harness
	var agentSum string
	needAgent := func() error {
		if agentSum != "" {
			return nil
		}
		if hcfg.Agent == "" {
			dir, err := os.MkdirTemp("", "bpfmatrix-agent-")
			if err != nil {
				return err
			}
			// The binary must outlive this call only while guests run; the OS cleans temp dirs.
			if hcfg.Agent, err = harness.AgentBinary(ctx, dir); err != nil {
				return err
			}
		}
		agentSum, err = files.SHA256(hcfg.Agent)
		return err
	}
	cache := Cache{Dir: filepath.Join(cacheDir, "observations")}
	byName := map[string]*Observation{}
	var boot []harness.Kernel
	// Cached observations are read (and their checksums checked) in parallel: with every kernel
	// cached, this is most of what a registry check costs.
	cachedData := make([][]byte, len(images))
	if !opts.Refresh && len(images) > 0 {
		if err := needAgent(); err != nil {
			return nil, fmt.Errorf("observe: agent: %w", err)
		}
		errs := make([]error, len(images))
		var wg sync.WaitGroup
		for i, img := range images {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cachedData[i], errs[i] = cache.Get(img.SHA256, agentSum)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				fmt.Fprintf(log, "%s: %v\n", images[i].Name, err)
			}
		}
	}
	for i, img := range images {
		if data := cachedData[i]; data != nil {
			fmt.Fprintf(log, "%s: cached observations (image %.12s, agent %.12s)\n", img.Name, img.SHA256, agentSum)
			byName[img.Name] = &Observation{Name: img.Name, Data: data, Cached: true}
			continue
		}
		boot = append(boot, HarnessKernel(img))
	}
	if len(boot) > 0 {
		if opts.NeedQEMU != nil {
			if err := opts.NeedQEMU(); err != nil {
				return nil, err
			}
		}
		if err := needAgent(); err != nil {
			return nil, fmt.Errorf("observe: agent: %w", err)
		}
		start := time.Now()
		fmt.Fprintf(log, "booting %d kernel(s) (%d at a time)\n", len(boot), hcfg.Parallel)
		results, err := harness.Run(ctx, hcfg, boot, opts.OnEvent)
		if err != nil && results == nil {
			return nil, err
		}
		for i, r := range results {
			if r == nil {
				// Not started before cancellation: say so rather than drop the kernel.
				failedFetch[boot[i].Name] = fmt.Errorf("not run: %w", context.Cause(ctx))
				continue
			}
			data, err := json.Marshal(r)
			if err != nil {
				return nil, err
			}
			byName[r.Kernel.Name] = &Observation{Name: r.Kernel.Name, Data: data, Failed: !r.OK()}
			if r.OK() {
				if err := cache.Put(r.Kernel.SHA256, agentSum, data); err != nil {
					fmt.Fprintf(log, "%s: %v\n", r.Kernel.Name, err)
				}
			}
		}
		fmt.Fprintf(log, "guests done in %.1fs\n", time.Since(start).Seconds())
		if err != nil {
			fmt.Fprintf(log, "harness: %v\n", err)
		}
	}
	var out []Observation
	for _, e := range entries {
		if o, ok := byName[e.Name]; ok {
			out = append(out, *o)
			continue
		}
		why, ok := failedFetch[e.Name]
		if !ok {
			why = errors.New("no image and no result")
		}
		out = append(out, failed(e.Name, why))
	}
	return out, nil
}

// HarnessKernel describes a fetched kernel image to the harness.
func HarnessKernel(img vmimages.Image) harness.Kernel {
	return harness.Kernel{
		Name: img.Name, Path: img.Path, Modules: img.Modules, Config: img.ConfigPath,
		SHA256: img.SHA256, Package: img.Package, Version: img.Version,
	}
}

// failed builds the observation of a kernel that produced nothing: its guest block says why.
func failed(name string, why error) Observation {
	data, err := json.Marshal(harness.Failed(name, why))
	if err != nil {
		data = []byte(fmt.Sprintf(`{"results":[],"guest":{"status":"failed","error":%q}}`, why.Error()))
	}
	return Observation{Name: name, Data: data, Failed: true}
}

// WriteDir writes each observation to dir/<name>.json, the layout `bpfmatrix report --in`
// reads, and returns the paths.
func WriteDir(dir string, obs []Observation) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, o := range obs {
		p := filepath.Join(dir, o.Name+".json")
		if err := files.WriteAtomic(p, o.Data, 0o644); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}
