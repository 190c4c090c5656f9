package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

var repoKernels = filepath.Join("..", "..", "kernels.yaml")

func TestRunBadArgs(t *testing.T) {
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"run", "--parallel", "0"}, "--parallel 0: must be 1 to 64"},
		{[]string{"run", "--cpus", "-1"}, "--cpus -1: must be 1 to 64"},
		{[]string{"run", "--timeout", "0s"}, "--timeout 0s: must be positive"},
		{[]string{"run", "--memory", "64"}, "--memory 64: must be 128 to 65536 MB"},
		{[]string{"run", "--accel", "hvf"}, `--accel "hvf": kvm or tcg`},
		{[]string{"run", "--channel", "pigeon"}, `--channel "pigeon": virtio or serial`},
		{[]string{"run", "--helpers", "1,x"}, `flag -helpers: "x" is not a helper id`},
		{[]string{"run", "5.10"}, "unexpected arguments"},
		{[]string{"run", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"run", "--qemu", "/nonexistent/qemu"}, "--qemu:"},
		{[]string{"run", "--arch", "riscv64"}, `--arch: unknown architecture "riscv64"`},
		{[]string{"run", "--arch", ""}, "--arch: empty value"},
		// arm64 guests run on their own QEMU; the x86 one is no use to them.
		{[]string{"run", "--arch", "arm64", "--qemu", "/bin/true", "--qemu-arm64", "/nonexistent/qemu"}, "--qemu-arm64:"},
		{[]string{"run", "--kernels-file", "/nonexistent/kernels.yaml", "--qemu", "/bin/true"}, "/nonexistent/kernels.yaml"},
		{[]string{"run", "--kernels-file", repoKernels, "--kernels", "4.19", "--qemu", "/bin/true"}, `unknown kernel "4.19"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := run(tt.args...)
			if code != exitBadArgs || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, exitBadArgs, tt.stderr)
			}
		})
	}
}

func needQEMU(t *testing.T) {
	t.Helper()
	testenv.NeedQEMU(t)
}

// TestRun boots a real kernel through the command, with a small probe, and checks the report it
// writes. The test binary is not static, so the command builds its agent with go build: the path
// a source checkout takes.
func TestRun(t *testing.T) {
	needQEMU(t)
	out := t.TempDir()
	code, stdout, stderr := run("run", "--kernels-file", repoKernels, "--kernels", "7.3", "--out", out,
		"--helpers", "1,130,211", "--prog-types", "socket_filter,xdp")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{"7.3      booting", "7.3      agent up after", "7.3      6 results", "1 kernels in"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "7.3.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Kernel       struct{ Release string }
		BTFHelperIDs []int             `json:"btf_helper_ids"`
		ProgTypes    []json.RawMessage `json:"prog_types"`
		Results      []struct {
			HelperID int    `json:"helper_id"`
			ProgType string `json:"prog_type"`
			Outcome  string
		}
		Guest struct {
			BootSeconds  float64 `json:"boot_seconds"`
			ProbeSeconds float64 `json:"probe_seconds"`
			Accel        string
			ImageSHA256  string `json:"image_sha256"`
			Package      string
			Version      string
			Status       string
			Error        string
			ConsoleTail  *string `json:"console_tail"`
		}
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	g := rep.Guest
	if g.Status != observation.StatusOK || g.Error != "" || g.BootSeconds <= 0 || g.ProbeSeconds <= 0 || g.ConsoleTail == nil ||
		len(g.ImageSHA256) != 64 || !strings.HasPrefix(g.Package, "linux-") || !strings.HasPrefix(g.Version, "7.3") ||
		(g.Accel != "tcg" && g.Accel != "kvm") {
		t.Errorf("guest = %+v", g)
	}
	if !strings.HasPrefix(rep.Kernel.Release, "7.3") || len(rep.BTFHelperIDs) < 211 || len(rep.ProgTypes) != 2 {
		t.Errorf("facts: release %q, %d btf ids, %d prog types", rep.Kernel.Release, len(rep.BTFHelperIDs), len(rep.ProgTypes))
	}
	if len(rep.Results) != 6 {
		t.Fatalf("%d results, want 3 helpers x 2 types", len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.HelperID == 130 && r.Outcome == string(observation.UnknownID) {
			t.Errorf("7.3 does not know ringbuf_output in %s", r.ProgType)
		}
	}
}

// TestRunFailedKernel runs a "kernel" QEMU cannot boot: the run exits 1 and still writes the
// kernel's report, with status failed and the reason.
func TestRunFailedKernel(t *testing.T) {
	needQEMU(t)
	dir := t.TempDir()
	testenv.WriteFile(t, filepath.Join(dir, "bzImage"), []byte("not a kernel\n"))
	kfile := testenv.WriteFile(t, filepath.Join(dir, "kernels.yaml"), []byte("kernels:\n  - name: broken\n    path: bzImage\n"))
	out := filepath.Join(dir, "out")
	code, _, stderr := run("run", "--kernels-file", kfile, "--cache-dir", filepath.Join(dir, "cache"), "--out", out,
		"--helpers", "1", "--prog-types", "socket_filter")
	if code != exitNo || !strings.Contains(stderr, "1 failed") {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitNo, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "broken.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Results []json.RawMessage
		Guest   struct{ Status, Error string }
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Guest.Status != observation.StatusFailed || rep.Guest.Error == "" || len(rep.Results) != 0 {
		t.Fatalf("report: %s", b)
	}
}

// TestRunThenReport: `bpfmatrix run` then `bpfmatrix report`, with no flag naming a directory,
// report on what run observed (run wrote to out/ while report read out/observations).
func TestRunThenReport(t *testing.T) {
	kfile := fakeKernels(t, fakeqemu.Replay)
	t.Chdir(t.TempDir())
	t.Setenv("TMPDIR", t.TempDir())
	code, _, stderr := run("run", "--kernels-file", kfile, "--qemu", os.Args[0], "--accel", "tcg",
		"--timeout", "30s", "--retries", "0", "--cache-dir", t.TempDir())
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := run("report")
	if code != exitOK {
		t.Fatalf("report: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"kernel replay", "wrote " + filepath.Join("out", "report.json")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report's stdout lacks %q:\n%s", want, stdout)
		}
	}
}

// TestRunArchFlags: --arch reaches the pipeline's options, and an arm64 run's guests get the
// longer default time limit of emulated guests unless --timeout says otherwise.
func TestRunArchFlags(t *testing.T) {
	for _, tt := range []struct {
		args        []string
		wantArch    observation.Arch
		wantTimeout time.Duration
	}{
		{nil, observation.ArchAMD64, harness.DefaultTimeout(observation.ArchAMD64)},
		{[]string{"--arch", "arm64"}, observation.ArchARM64, harness.DefaultTimeout(observation.ArchARM64)},
		{[]string{"--arch", "arm64", "--timeout", "90s"}, observation.ArchARM64, 90 * time.Second},
		{[]string{"--timeout", "90s"}, observation.ArchAMD64, 90 * time.Second},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("run", flag.ContinueOnError)
			f := addRunFlags(fs)
			if err := fs.Parse(append([]string{"--kernels-file", repoKernels, "--cache-dir", t.TempDir()}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			opts, err := f.gf.options("")
			if err != nil {
				t.Fatal(err)
			}
			if opts.Arch != tt.wantArch || opts.Harness.Timeout != tt.wantTimeout {
				t.Errorf("arch %q, timeout %v; want %q, %v", opts.Arch, opts.Harness.Timeout, tt.wantArch, tt.wantTimeout)
			}
		})
	}
	if harness.DefaultTimeout(observation.ArchARM64) <= harness.DefaultTimeout(observation.ArchAMD64) {
		t.Error("arm64 guests, emulated, get no more time than amd64 ones")
	}
}
