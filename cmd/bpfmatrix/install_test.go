package main

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// TestInstalledAnywhere installs bpfmatrix the way `go install` does on a machine with a C
// compiler (cgo on: a dynamically linked binary) and runs it from an empty directory with no Go
// toolchain in PATH: no kernels.yaml, no source tree to build the agent in. verify must answer
// (exit 0 or 1, not a failure to start) and run must boot a guest whose agent is the installed
// binary itself.
func TestInstalledAnywhere(t *testing.T) {
	testenv.NeedQEMU(t)
	testenv.NeedCommand(t, "cc", "gcc")
	gobin := t.TempDir()
	install := exec.Command("go", "install", "./cmd/bpfmatrix")
	install.Dir = filepath.Join("..", "..")
	install.Env = append(os.Environ(), "CGO_ENABLED=1", "GOBIN="+gobin)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	bin := filepath.Join(gobin, "bpfmatrix")
	if !isDynamic(t, bin) {
		t.Fatalf("%s is statically linked: cgo was not on, so this tests nothing new", bin)
	}

	work := t.TempDir()
	env := installedEnv(t, readOnlyCache(t))
	bpfmatrix := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("bpfmatrix %s: %v", strings.Join(args, " "), err)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}

	start := time.Now()
	// One kernel: the binary's hash is new, so its observations are probed cold.
	code, out := bpfmatrix("verify", "ringbuf_output", "--kernels", "6.1", "--cache-dir", filepath.Join(cacheHome(env), "bpfmatrix"))
	if code != exitOK && code != exitNo {
		t.Fatalf("verify from an empty directory: exit %d, want 0 or 1\n%s", code, out)
	}
	t.Logf("verify ringbuf_output: exit %d in %.1fs", code, time.Since(start).Seconds())

	outDir := t.TempDir()
	code, out = bpfmatrix("run", "--kernels", "6.1", "--helpers", "1,130", "--prog-types", "socket_filter,xdp", "--out", outDir)
	if code != exitOK {
		t.Fatalf("run from an empty directory: exit %d\n%s", code, out)
	}
	data, err := os.ReadFile(filepath.Join(outDir, "6.1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Guest struct{ Status, Error string }
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Guest.Status != observation.StatusOK {
		t.Fatalf("6.1.json: guest status %q (%s), %v\n%s", doc.Guest.Status, doc.Guest.Error, err, out)
	}
	if ents, _ := os.ReadDir(work); len(ents) != 0 {
		t.Errorf("the commands wrote %d files in the working directory", len(ents))
	}
}

// isDynamic reports whether the ELF file at p has an interpreter.
func isDynamic(t *testing.T, p string) bool {
	t.Helper()
	f, err := elf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

// installedEnv is this process's environment with XDG_CACHE_HOME set to cacheHome and PATH
// stripped of every directory that holds a go command, so the installed binary cannot build
// its agent from source even if it wanted to.
func installedEnv(t *testing.T, cacheHome string) []string {
	t.Helper()
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "go")); err != nil && d != "" {
			dirs = append(dirs, d)
		}
	}
	env := []string{"PATH=" + strings.Join(dirs, string(filepath.ListSeparator)), "XDG_CACHE_HOME=" + cacheHome}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "PATH" && k != "XDG_CACHE_HOME" && !strings.HasPrefix(k, "GO") {
			env = append(env, kv)
		}
	}
	return env
}

func cacheHome(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "XDG_CACHE_HOME="); ok {
			return v
		}
	}
	return ""
}

// readOnlyCache returns a cache home whose bpfmatrix cache links each kernel image the user's
// cache holds for the built-in kernels, so nothing is downloaded again, while observations and
// any missing image are written to the temporary cache: the user's cache is only read (a
// corrupt entry would be dropped as a link, never deleted behind it).
func readOnlyCache(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	images := filepath.Join(home, "bpfmatrix", "images")
	if err := os.MkdirAll(images, 0o755); err != nil {
		t.Fatal(err)
	}
	real, err := vmimages.DefaultCacheDir()
	if err != nil {
		return home
	}
	cfg, err := vmimages.LoadConfig(vmimages.BuiltinKernelsFile)
	if err != nil {
		t.Fatal(err)
	}
	sts, err := vmimages.Status(real, cfg.Entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.Cached {
			sum := st.Locked.SHA256
			if err := os.Symlink(filepath.Join(real, "images", sum), filepath.Join(images, sum)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return home
}
