package harness

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// ErrNoAgent is returned (wrapped) when no agent binary can be found, built or packed.
var ErrNoAgent = errors.New("no agent binary")

// IsStatic reports whether the ELF file at path, which must be built for the guests'
// architecture arch (empty: amd64), is statically linked (no PT_INTERP program header): only
// such a binary runs as /init in an initramfs that holds nothing else. A dynamically linked one
// needs the files SharedObjects lists beside it.
func IsStatic(path string, arch observation.Arch) (bool, error) {
	m, err := machineFor(arch)
	if err != nil {
		return false, fmt.Errorf("agent binary: %w", err)
	}
	f, err := elf.Open(path)
	if err != nil {
		return false, fmt.Errorf("agent binary: %w", err)
	}
	defer f.Close()
	if f.Machine != m.elf {
		return false, fmt.Errorf("agent binary %s: machine %v, the guests are %s (%v)", path, f.Machine, m.arch, m.elf)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// AgentBinary returns the agent binary for the guests' /init. Inside the bpfmatrix source tree,
// with a Go toolchain, it is a guest-agent build (see BuildAgent) in dir: observations are cached
// by the agent's hash, and that build's hash stays the same when only the registry changes.
// Elsewhere it is the running executable, so an installed binary needs no toolchain: as it is
// when static (built with CGO_ENABLED=0), and when dynamically linked (go install with cgo on,
// the default where a C compiler is installed) a copy in dir marked with its loader and
// libraries (see BundleAgent), which Initramfs places beside it.
//
// Guests of another architecture than this machine's (arm64 under TCG on an amd64 host) need
// the toolchain: the running executable cannot be their /init, and the error (wrapping
// ErrNoAgent) says so.
func AgentBinary(ctx context.Context, dir string, arch observation.Arch) (string, error) {
	built, buildErr := BuildAgent(ctx, dir, arch)
	if buildErr == nil {
		return built, nil
	}
	if m, _ := machineFor(arch); m.arch != HostArch() {
		return "", fmt.Errorf("%w; this bpfmatrix is a %s program and cannot be the /init of %s guests: run it inside the bpfmatrix source tree with a Go toolchain, which cross-builds the agent, or give --agent a static %s build (GOARCH=%s CGO_ENABLED=0 go build ./cmd/bpfmatrix-agent)",
			buildErr, HostArch(), m.arch, m.arch, m.arch)
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("agent binary: %w", err)
	}
	static, err := IsStatic(exe, arch)
	if err != nil {
		return "", fmt.Errorf("%w: %v; and %v", ErrNoAgent, err, buildErr)
	}
	if static {
		return exe, nil
	}
	bundled, err := BundleAgent(ctx, exe, dir)
	if err != nil {
		return "", fmt.Errorf("%w: %v; and %v", ErrNoAgent, err, buildErr)
	}
	return bundled, nil
}

// mainPackage is the import path of the agent command.
const mainPackage = "github.com/bpfmatrix/bpfmatrix/cmd/bpfmatrix-agent"

// BuildAgent builds the agent command (cmd/bpfmatrix-agent) statically (CGO_ENABLED=0) for arch
// (GOARCH; empty: amd64) into dir, one file per architecture, with the Go toolchain, from the
// module that contains the current directory. The build is a
// guest-agent build (registry.AgentBuildTag: no embedded helper table) without VCS stamps:
// observations are cached by the agent binary's hash, and neither a registry edit nor an
// uncommitted change elsewhere in the tree may change that hash while the probe code stays the
// same.
func BuildAgent(ctx context.Context, dir string, arch observation.Arch) (string, error) {
	m, err := machineFor(arch)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoAgent, err)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: no Go toolchain in PATH to build %s", ErrNoAgent, mainPackage)
	}
	if !inModule() {
		// go build would say the same after starting up: an installed bpfmatrix run from any
		// other directory (verify from a warm cache) should not pay for that.
		return "", fmt.Errorf("%w: go build %s builds inside the bpfmatrix source tree, and no go.mod or go.work is in this directory or above", ErrNoAgent, mainPackage)
	}
	out := filepath.Join(dir, agentFile(m.arch))
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-buildvcs=false",
		"-tags", registry.AgentBuildTag, "-ldflags=-s -w", "-o", out, mainPackage)
	// GOARCH always: a GOARCH in the user's environment must not choose the guests' machine.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH="+string(m.arch))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: GOARCH=%s go build %s (it builds inside the bpfmatrix source tree): %v: %s",
			ErrNoAgent, m.arch, mainPackage, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// agentFile names the agent build of arch in BuildAgent's directory: the amd64 one keeps the
// name it always had, so that one directory can hold the build of each architecture.
func agentFile(arch observation.Arch) string {
	if arch == observation.ArchAMD64 {
		return "bpfmatrix-agent"
	}
	return "bpfmatrix-agent-" + string(arch)
}

// manifestMark starts the list of shared objects that BundleAgent appends to an agent.
const manifestMark = "\n#bpfmatrix-agent-shared-objects\n"

// BundleAgent makes a dynamically linked executable ready to be a guest's /init: it copies exe
// into dir and appends a manifest of the files its loader needs (SharedObjects), one line each
// with the guest path and the file's sha256. Initramfs puts those files beside /init.
//
// The observation cache is keyed by the agent file's sha256, so with the manifest that key
// covers the executable and every library the guest runs it with: a libc update on the host
// makes the kernels be probed again, as a new agent build does. The bytes after the ELF image
// change nothing when it runs: the kernel and the loader map only what the program headers name.
// A static exe needs nothing and is returned as it is.
func BundleAgent(ctx context.Context, exe, dir string) (string, error) {
	objs, err := SharedObjects(exe)
	if err != nil || len(objs) == 0 {
		return exe, err
	}
	var manifest strings.Builder
	manifest.WriteString(manifestMark)
	for _, o := range objs {
		sum, err := files.SHA256(ctx, o.Source)
		if err != nil {
			return "", fmt.Errorf("agent binary: %w", err)
		}
		fmt.Fprintf(&manifest, "%s %s\n", o.Name, sum)
	}
	// A plain write, not an atomic one: dir is the caller's own temporary directory, and a
	// sync of tens of megabytes would cost a warm verify more than everything else it does.
	out := filepath.Join(dir, "bpfmatrix-agent")
	if err := copyWithManifest(exe, out, manifest.String()); err != nil {
		return "", fmt.Errorf("agent binary: copy %s: %w", exe, err)
	}
	return out, nil
}

// copyWithManifest writes the file src followed by manifest to dst, executable.
func copyWithManifest(src, dst, manifest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		_, err = io.WriteString(out, manifest)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// SharedObjects lists the files the loader needs to start the dynamically linked x86-64 ELF
// executable exe in a guest whose initramfs holds nothing else: its interpreter at the PT_INTERP
// path (the kernel opens exactly that), then the DT_NEEDED libraries, recursively, each once.
// A static executable needs nothing: the list is empty.
//
// Libraries are found as the loader finds them on this host: in DT_RPATH (when the object has
// no DT_RUNPATH), DT_RUNPATH, the ld.so cache (ldconfig -p), then the loader's system
// directories (what `ld.so --help` lists). LD_LIBRARY_PATH and search entries with $ORIGIN are
// not used: the guest has no environment for the loader, and its /init lives elsewhere than exe.
// Each library goes to the guest at the path it has here when the guest's loader looks there
// without a cache (a system or RUNPATH directory); one the host found only through its cache
// goes into the first system directory, since the guest has no ld.so cache.
func SharedObjects(exe string) ([]File, error) {
	top, err := readDynamic(exe)
	if err != nil || top.interp == "" {
		return nil, err
	}
	loader, err := readDynamic(top.interp)
	if err != nil {
		return nil, fmt.Errorf("%s: interpreter: %w", exe, err)
	}
	r := &libResolver{sysDirs: systemDirs(top.interp), exe: top}
	out := []File{{Name: top.interp, Source: top.interp, Mode: 0o755}}
	done := map[string]bool{path.Base(top.interp): true, loader.soname: true}
	type want struct {
		name string
		by   *dynInfo
	}
	var queue []want
	for _, n := range top.needed {
		queue = append(queue, want{n, &top})
	}
	for len(queue) > 0 {
		w := queue[0]
		queue = queue[1:]
		if done[w.name] {
			continue
		}
		done[w.name] = true
		host, guest, err := r.find(w.name, w.by)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", exe, err)
		}
		lib, err := readDynamic(host)
		if err != nil {
			return nil, fmt.Errorf("%s: library: %w", exe, err)
		}
		out = append(out, File{Name: guest, Source: host, Mode: 0o755})
		for _, n := range lib.needed {
			queue = append(queue, want{n, &lib})
		}
	}
	return out, nil
}

// dynInfo is what the loader reads from an ELF object to find what it needs.
type dynInfo struct {
	interp         string   // PT_INTERP; empty for a static executable or a library
	needed         []string // DT_NEEDED
	rpath, runpath []string // DT_RPATH and DT_RUNPATH directories, $ORIGIN entries left out
	soname         string   // DT_SONAME
	hasRunpath     bool     // DT_RUNPATH is set (even if unusable): then DT_RPATH is ignored
}

// readDynamic reads the loader's view of the x86-64 ELF object at p.
func readDynamic(p string) (dynInfo, error) {
	var d dynInfo
	f, err := elf.Open(p)
	if err != nil {
		return d, err
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		return d, fmt.Errorf("%s: machine %v %v, guests are x86-64", p, f.Class, f.Machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			b, err := io.ReadAll(prog.Open())
			if err != nil {
				return d, fmt.Errorf("%s: PT_INTERP: %w", p, err)
			}
			d.interp = strings.TrimRight(string(b), "\x00")
		}
	}
	dyn := func(tag elf.DynTag) []string {
		v, _ := f.DynString(tag) // no dynamic section: nothing needed
		return v
	}
	d.needed = dyn(elf.DT_NEEDED)
	if s := dyn(elf.DT_SONAME); len(s) > 0 {
		d.soname = s[0]
	}
	d.rpath = searchDirs(dyn(elf.DT_RPATH))
	runpath := dyn(elf.DT_RUNPATH)
	d.runpath, d.hasRunpath = searchDirs(runpath), len(runpath) > 0
	return d, nil
}

// searchDirs splits DT_RPATH or DT_RUNPATH values into absolute directories, leaving out the
// entries the guest's loader would read differently ($ORIGIN, $LIB, $PLATFORM, relative paths).
func searchDirs(values []string) []string {
	var out []string
	for _, v := range values {
		for _, d := range strings.Split(v, ":") {
			if path.IsAbs(d) && !strings.Contains(d, "$") {
				out = append(out, path.Clean(d))
			}
		}
	}
	return out
}

// libResolver finds libraries for SharedObjects.
type libResolver struct {
	sysDirs []string
	exe     dynInfo
}

// find returns where the library name needed by the object by is on this host and where it goes
// in the guest.
func (r *libResolver) find(name string, by *dynInfo) (host, guest string, err error) {
	if strings.Contains(name, "/") {
		// A path in DT_NEEDED is opened as it is, by both loaders.
		return name, path.Clean(name), nil
	}
	var dirs []string
	if !by.hasRunpath {
		dirs = append(dirs, by.rpath...)
		if !r.exe.hasRunpath {
			dirs = append(dirs, r.exe.rpath...)
		}
	}
	dirs = append(dirs, by.runpath...)
	for _, d := range dirs {
		if p := path.Join(d, name); isFile(p) {
			return p, p, nil
		}
	}
	if p, ok := ldCache()[name]; ok && isFile(p) {
		if slices.Contains(r.sysDirs, path.Dir(p)) && path.Base(p) == name {
			return p, p, nil
		}
		return p, path.Join(r.sysDirs[0], name), nil
	}
	for _, d := range r.sysDirs {
		if p := path.Join(d, name); isFile(p) {
			return p, p, nil
		}
	}
	return "", "", fmt.Errorf("library %s not found (searched %s, the ld.so cache and %s)",
		name, strings.Join(dirs, ":"), strings.Join(r.sysDirs, ":"))
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// defaultSystemDirs are the loader's own search directories when it cannot tell them (glibc
// before 2.33, musl): Debian's multiarch directories first, since Debian's loader does not
// search /lib64, then Fedora's, then the classic ones.
var defaultSystemDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

var (
	sysDirsMu    sync.Mutex
	sysDirsCache = map[string][]string{}
)

// systemDirs returns the directories the loader interp searches when no cache names a library:
// what glibc's `ld.so --help` lists as "system search path", else defaultSystemDirs. The answer
// is kept for the process: the loader does not change under a running bpfmatrix.
func systemDirs(interp string) []string {
	sysDirsMu.Lock()
	defer sysDirsMu.Unlock()
	if dirs, ok := sysDirsCache[interp]; ok {
		return dirs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, interp, "--help").Output()
	var dirs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if d, ok := strings.CutSuffix(strings.TrimSpace(sc.Text()), " (system search path)"); ok && path.IsAbs(d) {
			dirs = append(dirs, path.Clean(d))
		}
	}
	if len(dirs) == 0 {
		dirs = defaultSystemDirs
	}
	sysDirsCache[interp] = dirs
	return dirs
}

// ldCache returns the 64-bit x86 libraries of the host's ld.so cache by name, as `ldconfig -p`
// lists them (the first entry of a name wins, as in the loader). Entries for a hardware
// capability level (glibc-hwcaps) are left out: the guest's CPU may not have it. A host without
// ldconfig (musl) has no cache: the map is empty.
var ldCache = sync.OnceValue(func() map[string]string {
	libs := map[string]string{}
	ldconfig, err := exec.LookPath("ldconfig")
	if err != nil {
		for _, p := range []string{"/sbin/ldconfig", "/usr/sbin/ldconfig"} {
			if isFile(p) {
				ldconfig = p
			}
		}
	}
	if ldconfig == "" {
		return libs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, ldconfig, "-p").Output()
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "\tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6"
		left, p, ok := strings.Cut(strings.TrimSpace(sc.Text()), " => ")
		name, flags, ok2 := strings.Cut(left, " (")
		if !ok || !ok2 || !strings.Contains(flags, "x86-64") || strings.Contains(flags, "hwcap") {
			continue
		}
		if _, seen := libs[name]; !seen {
			libs[name] = p
		}
	}
	return libs
})

// inModule reports whether the current directory is inside a Go module or workspace, as the go
// command finds them (a go.mod or go.work here or in a parent; GOWORK set counts too).
func inModule() bool {
	if w := os.Getenv("GOWORK"); w != "" && w != "off" {
		return true
	}
	dir, err := os.Getwd()
	if err != nil {
		return true // let go build decide
	}
	for {
		for _, name := range []string{"go.mod", "go.work"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return true
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
}
