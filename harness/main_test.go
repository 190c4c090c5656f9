package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"

	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// agentBin is the bpfmatrix binary, built statically once for every test that boots a guest;
// agentBinARM64 its arm64 build, for the tests of arm64 guests.
var (
	agentDir  string
	agentOnce sync.Once
	agentBin  string
	agentErr  error

	agentARM64Once sync.Once
	agentBinARM64  string
	agentARM64Err  error
)

func TestMain(m *testing.M) {
	// The fault tests run this binary as their QEMU.
	fakeqemu.Main()
	dir, err := os.MkdirTemp("", "harness-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// BuildAgent is what `bpfmatrix run` falls back to; the tests use it for their agent too.
	agentDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needAgent(t testing.TB) {
	t.Helper()
	// Built on first use: the fault tests, which run a fake QEMU, need no agent.
	agentOnce.Do(func() { agentBin, agentErr = BuildAgent(context.Background(), agentDir, observation.ArchAMD64) })
	if agentErr != nil {
		t.Fatalf("building the agent: %v", agentErr)
	}
}

func needAgentARM64(t testing.TB) {
	t.Helper()
	agentARM64Once.Do(func() {
		agentBinARM64, agentARM64Err = BuildAgent(context.Background(), agentDir, observation.ArchARM64)
	})
	if agentARM64Err != nil {
		t.Fatalf("building the arm64 agent: %v", agentARM64Err)
	}
}

// needQEMU skips a test when QEMU is not installed, except in CI, where a missing QEMU is a
// broken setup (.ci/run installs it).
func needQEMU(t testing.TB) string {
	t.Helper()
	return testenv.NeedQEMU(t)
}

var (
	kernelsMu    sync.Mutex
	kernelsCache = map[string]Kernel{}
)

// testKernels returns the named kernels of the repository's kernels.yaml from the image cache,
// fetched into it when they are not there yet and BPFMATRIX_TEST_NETWORK allows (the first run
// needs the Debian archive; later runs use kernels.lock and the cache).
func testKernels(t testing.TB, names ...string) []Kernel {
	t.Helper()
	return testKernelsOf(t, observation.ArchAMD64, names...)
}

// testKernelsOf is testKernels for the builds of arch.
func testKernelsOf(t testing.TB, arch observation.Arch, names ...string) []Kernel {
	t.Helper()
	kernelsMu.Lock()
	defer kernelsMu.Unlock()
	var missing []string
	for _, n := range names {
		if _, ok := kernelsCache[observation.KernelLabel(n, arch)]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		cfg, err := vmimages.LoadConfig(filepath.Join("..", "kernels.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		entries, err := cfg.SelectArch(arch, missing)
		if err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		offline := !testenv.Network()
		images, err := (&vmimages.Fetcher{Progress: &log, Offline: offline, Arch: arch}).Fetch(context.Background(), entries)
		if err != nil && offline {
			testenv.Need(t, err, "bpfmatrix kernels fetch --arch "+string(arch)+" "+strings.Join(missing, " ")+", or set "+testenv.EnvNetwork+"=1")
		}
		if err != nil {
			t.Fatalf("fetching %s kernels %v: %v\n%s", arch, missing, err, log.String())
		}
		docArch := arch // the guest block names an architecture other than amd64 only
		if arch == observation.DefaultArch {
			docArch = ""
		}
		for _, img := range images {
			kernelsCache[observation.KernelLabel(img.Name, arch)] = Kernel{
				Name: img.Name, Path: img.Path, Modules: img.Modules, KfuncModules: img.KfuncModules, Config: img.ConfigPath,
				Image: observation.Image{SHA256: img.SHA256, Package: img.Package, Version: img.Version, DebianVersion: img.DebianVersion, Arch: docArch},
			}
		}
	}
	out := make([]Kernel, len(names))
	for i, n := range names {
		out[i] = kernelsCache[observation.KernelLabel(n, arch)]
	}
	return out
}

// allKernels returns every kernel of kernels.yaml.
func allKernels(t testing.TB) []Kernel {
	t.Helper()
	cfg, err := vmimages.LoadConfig(filepath.Join("..", "kernels.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return testKernels(t, cfg.Names()...)
}

// testConfig is the default configuration with the test agent, a work directory of the test's
// own (so tests can check that it is left empty) and QEMU from PATH.
func testConfig(t testing.TB) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.QEMU = needQEMU(t)
	needAgent(t)
	cfg.Agent = agentBin
	cfg.WorkDir = t.TempDir()
	return cfg
}

// noRetries makes every guest failure final, for tests that check how a failure is reported.
// Multi-threaded TCG crashes about one boot in fifty at random (an oops while the kernel patches
// its own text, "int3" or in the scheduler; see BenchmarkCrashStudy), which without a retry would
// fail a healthy guest now and then: with one host thread per guest no boot has crashed.
func noRetries(cfg *Config) {
	cfg.Retries = 0
	cfg.TCGThread = "single"
}
