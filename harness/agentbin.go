package harness

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// ErrNoAgent is returned (wrapped) when no static agent binary can be found or built.
var ErrNoAgent = errors.New("no statically linked agent binary")

// IsStatic reports whether the ELF file at path is statically linked (no PT_INTERP program
// header): only such a binary runs as /init in an initramfs that holds nothing else.
func IsStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, fmt.Errorf("agent binary: %w", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return false, fmt.Errorf("agent binary %s: machine %v, guests are x86-64", path, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// AgentBinary returns a static agent binary. Inside the bpfmatrix source tree, with a Go
// toolchain, it is a guest-agent build (see BuildAgent) in dir: observations are cached by the
// agent's hash, and that build's hash stays the same when only the registry changes. Elsewhere
// it is the running executable when that is static (a bpfmatrix built with CGO_ENABLED=0 is its
// own agent, so an installed binary needs no toolchain).
func AgentBinary(ctx context.Context, dir string) (string, error) {
	built, buildErr := BuildAgent(ctx, dir)
	if buildErr == nil {
		return built, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("agent binary: %w", err)
	}
	if static, err := IsStatic(exe); err == nil && static {
		return exe, nil
	}
	return "", buildErr
}

// mainPackage is the import path of the agent command.
const mainPackage = "github.com/bpfmatrix/bpfmatrix/cmd/bpfmatrix-agent"

// BuildAgent builds the agent command (cmd/bpfmatrix-agent) statically (CGO_ENABLED=0) into dir with the Go
// toolchain, from the module that contains the current directory. The build is a guest-agent
// build (registry.AgentBuildTag: no embedded helper table) without VCS stamps: observations are
// cached by the agent binary's hash, and neither a registry edit nor an uncommitted change
// elsewhere in the tree may change that hash while the probe code stays the same.
func BuildAgent(ctx context.Context, dir string) (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: this bpfmatrix is dynamically linked and no Go toolchain is in PATH; "+
			"rebuild it with CGO_ENABLED=0", ErrNoAgent)
	}
	out := filepath.Join(dir, "bpfmatrix-agent")
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-buildvcs=false",
		"-tags", registry.AgentBuildTag, "-ldflags=-s -w", "-o", out, mainPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: go build %s (run it inside the bpfmatrix source tree, or rebuild bpfmatrix "+
			"with CGO_ENABLED=0): %v: %s", ErrNoAgent, mainPackage, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
