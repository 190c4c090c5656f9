package guest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/objload"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/probe"
	"github.com/cilium/ebpf/btf"
)

// planLimit bounds the load plan read: it names objects and --set words, a few KiB.
const planLimit = 1 << 20

// HasLoadPlan reports whether the host asked this guest to load objects (wire.LoadPlanPath
// exists) rather than to probe.
func HasLoadPlan() bool {
	_, err := os.Stat(wire.LoadPlanPath)
	return err == nil
}

// LoadObjects is the Probe of a guest given a load plan: the kernel's facts as header, then one
// observation.ProgramLoad per program of the plan's objects, in plan order. The .kconfig
// externs are read from the configuration the host put at wire.KernelConfigPath, when it did.
func LoadObjects(ctx context.Context, opts Options, header, result func(any) error) error {
	plan, err := readPlan(wire.LoadPlanPath)
	if err != nil {
		return err
	}
	lopts, err := loadOptions(plan, wire.KernelConfigPath)
	if err != nil {
		return err
	}
	return runPlan(ctx, plan, lopts, opts.Log, header, result)
}

// readPlan reads the load plan at path strictly: unknown keys, trailing data and objects without
// a path are errors naming the file.
func readPlan(path string) (wire.LoadPlan, error) {
	var plan wire.LoadPlan
	f, err := os.Open(path)
	if err != nil {
		return plan, fmt.Errorf("load plan: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, planLimit+1))
	if err != nil {
		return plan, fmt.Errorf("load plan %s: %w", path, err)
	}
	if len(data) > planLimit {
		return plan, fmt.Errorf("load plan %s: larger than %d bytes", path, planLimit)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&plan); err != nil {
		return plan, fmt.Errorf("load plan %s: %w", path, err)
	}
	if dec.More() {
		return plan, fmt.Errorf("load plan %s: data after the plan", path)
	}
	for i, o := range plan.Objects {
		if o.Path == "" {
			return plan, fmt.Errorf("load plan %s: object %d has no path", path, i+1)
		}
	}
	return plan, nil
}

// loadOptions are objload's options for plan: its --set words parsed, attach, and the kernel
// configuration at kconfigPath when the file exists.
func loadOptions(plan wire.LoadPlan, kconfigPath string) (objload.Options, error) {
	opts := objload.Options{Attach: plan.Attach, BTFCache: btf.NewCache()}
	for _, w := range plan.Set {
		s, err := objload.ParseSetting(w)
		if err != nil {
			return opts, fmt.Errorf("load plan: %w", err)
		}
		opts.Set = append(opts.Set, s)
	}
	if _, err := os.Stat(kconfigPath); err == nil {
		opts.KernelConfig = kconfigPath
	}
	return opts, nil
}

// runPlan sends the running kernel's facts, then loads the plan's objects one after the other.
// An object the guest cannot read (the host checked it; a damaged initramfs) stops the run with
// an error naming it, after the answers already sent.
func runPlan(ctx context.Context, plan wire.LoadPlan, opts objload.Options, log io.Writer, header, result func(any) error) error {
	release, version, err := probe.RunningKernel()
	if release == "" {
		return fmt.Errorf("load: %w", err)
	}
	facts := observation.Facts{Kernel: observation.KernelInfo{Release: release}}
	if err == nil {
		facts.Kernel.Version = fmt.Sprintf("%d.%d.%d", version.Major, version.Minor, version.Patch)
	}
	if err := header(facts); err != nil {
		return err
	}
	emit := func(r observation.ProgramLoad) error { return result(r) }
	for _, o := range plan.Objects {
		n := 0
		err := objload.Load(ctx, objload.Object{Path: o.Path, Name: o.Name, SHA256: o.SHA256}, opts, func(r observation.ProgramLoad) error {
			n++
			return emit(r)
		})
		if err != nil {
			return fmt.Errorf("load %s: %w", o.Name, err)
		}
		if log != nil {
			fmt.Fprintf(log, "bpfmatrix agent: %s: %d programs\n", o.Name, n)
		}
	}
	return nil
}
