package report

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// kernelFile is the per-kernel file `bpfmatrix run` writes (DIR/<name>.json): the probe
// engine's JSON plus the guest block. Only the keys a report needs are read.
type kernelFile struct {
	Kernel struct {
		Release string `json:"release"`
		Version string `json:"version"`
	} `json:"kernel"`
	BTFHelperIDs []int            `json:"btf_helper_ids"`
	Results      []verdict.Result `json:"results"`
	Guest        *struct {
		BootSeconds   float64  `json:"boot_seconds"`
		ProbeSeconds  float64  `json:"probe_seconds"`
		Accel         string   `json:"accel"`
		ImageSHA256   string   `json:"image_sha256"`
		Package       string   `json:"package"`
		Version       string   `json:"version"`
		DebianVersion string   `json:"debian_version"`
		Status        string   `json:"status"`
		Error         string   `json:"error"`
		ConsoleTail   string   `json:"console_tail"`
		KernelConfig  []string `json:"kernel_config"`
		Failed        []struct {
			Error string `json:"error"`
		} `json:"failed_attempts"`
	} `json:"guest"`
}

// ReadKernelFile reads one per-kernel observation file. The kernel's name is the file's base
// name without .json, as `bpfmatrix run` names them. A guest whose status is not "ok" becomes a
// failed kernel: its results, if any, are kept in the file but are no evidence.
//
// A file whose name ends in .json.gz is gunzipped first (recorded observations are kept that way).
func ReadKernelFile(path string) (Kernel, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Kernel{}, fmt.Errorf("observations: %w", err)
	}
	base := filepath.Base(path)
	if strings.HasSuffix(base, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return Kernel{}, fmt.Errorf("observations: %s: %w", path, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return Kernel{}, fmt.Errorf("observations: %s: %w", path, err)
		}
		base = strings.TrimSuffix(base, ".gz")
	}
	return ParseKernel(strings.TrimSuffix(base, ".json"), path, data)
}

// ParseKernel reads one kernel's observations (the document ReadKernelFile reads) from data;
// name names the kernel and path is where data came from, for errors.
func ParseKernel(name, path string, data []byte) (Kernel, error) {
	var f kernelFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Kernel{}, fmt.Errorf("observations: %s: %w", path, err)
	}
	k := Kernel{
		Kernel:       verdict.Kernel{Name: name, Results: f.Results},
		ImageFacts:   ImageFacts{Release: f.Kernel.Release},
		BTFHelperIDs: f.BTFHelperIDs,
	}
	version := f.Kernel.Version
	if g := f.Guest; g != nil {
		k.BootSeconds, k.ProbeSeconds, k.Accel = g.BootSeconds, g.ProbeSeconds, g.Accel
		k.SHA256, k.Package, k.DebianVersion = g.ImageSHA256, g.Package, g.DebianVersion
		k.ConsoleTail, k.Error = g.ConsoleTail, g.Error
		for _, a := range g.Failed {
			k.FailedAttempts = append(k.FailedAttempts, a.Error)
		}
		if g.KernelConfig != nil {
			k.Config = make(map[string]bool, len(g.KernelConfig))
			for _, opt := range g.KernelConfig {
				k.Config[opt] = true
			}
		}
		if g.Status != "ok" {
			k.Failed = true
			if k.Error == "" {
				k.Error = "guest status " + g.Status
			}
		}
		if g.Version != "" {
			version = g.Version // the package's upstream version; Debian's 5.10 and 6.1 unames are ABI names
		}
	}
	if version == "" {
		version = f.Kernel.Release
	}
	if version == "" {
		// A kernel that failed before its guest said anything: its name is all there is
		// (Debian entries are named by series, "6.12").
		version = k.Name
	}
	v, err := registry.ParseVersion(version)
	if err != nil && !k.Failed {
		return Kernel{}, fmt.Errorf("observations: %s: kernel version: %w", path, err)
	}
	k.Version = v
	if k.Failed {
		k.Results = nil
	}
	return k, nil
}

// ReadDir reads every *.json (or *.json.gz) kernel file in dir (report files excluded), in name order. It keeps
// going past a bad file and returns the kernels it could read together with an error naming
// each file it could not.
func ReadDir(dir string) ([]Kernel, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("observations: %w", err)
	}
	gz, _ := filepath.Glob(filepath.Join(dir, "*.json.gz"))
	paths = append(paths, gz...)
	sort.Strings(paths)
	var ks []Kernel
	var errs []error
	for _, p := range paths {
		if filepath.Base(p) == "report.json" {
			continue
		}
		k, err := ReadKernelFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ks = append(ks, k)
	}
	if len(ks) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("observations: no kernel files (*.json) in %s", dir))
	}
	return ks, errors.Join(errs...)
}
