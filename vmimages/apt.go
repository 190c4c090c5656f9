package vmimages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/tempdir"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// debianSuites are the suites searched for kernel packages, oldest first. Stable releases carry
// one kernel series each (bullseye 5.10, bookworm 6.1, trixie 6.12); the security suites carry
// their newest builds, the backports suites the newer series, and sid/experimental the newest.
// A suite the archive no longer serves is skipped with a warning rather than failing a fetch.
var debianSuites = []struct {
	name     string
	security bool
}{
	{"bullseye", false},
	{"bullseye-security", true},
	{"bookworm", false},
	{"bookworm-security", true},
	{"bookworm-backports", false},
	{"trixie", false},
	{"trixie-security", true},
	{"trixie-backports", false},
	{"sid", false},
	{"experimental", false},
}

// apt runs the machine's apt with a private state directory: its own sources list, package lists
// and cache, and an empty dpkg status, so that the system's apt state is never read or changed.
// apt itself downloads and checks the archive's signatures and the packages' hashes.
type apt struct {
	dir     string           // <cache>/apt (amd64), <cache>/apt-<arch> (another architecture)
	arch    observation.Arch // of the packages fetched; empty means amd64
	archive DebianArchive

	// mu serializes writing the private configuration and running apt-get update. It is held
	// across apt-get update, so every method that takes it must not call another that does.
	mu       ctxMutex
	prepared bool        // guarded by mu
	updated  atomic.Bool // the lists were refreshed (or found fresh) during this fetch
}

// newApt returns the private apt state of one architecture in cacheDir. Each architecture has
// its own state (sources, lists, cache): apt reads the index of one architecture per state, and
// the lists of one never pass for the other's. amd64 keeps the directory it had before
// architectures were told apart, so that its lists stay usable.
func newApt(cacheDir string, arch observation.Arch, archive DebianArchive) *apt {
	dir := filepath.Join(cacheDir, "apt")
	if arch != observation.ArchAMD64 {
		dir += "-" + string(arch)
	}
	return &apt{dir: dir, arch: arch, archive: archive}
}

// prepareOnce writes the private configuration unless this value already did.
func (a *apt) prepareOnce(ctx context.Context) error {
	if err := a.mu.lock(ctx); err != nil {
		return fmt.Errorf("apt state: %w", err)
	}
	defer a.mu.unlock()
	if a.prepared {
		return nil
	}
	if err := a.prepare(ctx); err != nil {
		return err
	}
	a.prepared = true
	return nil
}

func (a *apt) sourcesListPath() string { return filepath.Join(a.dir, "sources.list") }
func (a *apt) listsDir() string        { return filepath.Join(a.dir, "lists") }

// prepare writes the private sources list and apt configuration. target=Packages keeps apt from
// downloading translations and AppStream metadata that a machine's apt.conf.d may enable.
func (a *apt) prepare(ctx context.Context) error {
	for _, d := range []string{a.dir, a.emptyDir(), a.tmpDir(), filepath.Join(a.listsDir(), "partial"), filepath.Join(a.dir, "cache", "archives", "partial")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("apt state: %w", err)
		}
	}
	tempdir.Sweep(a.tmpDir(), "apt-", orphanAge)
	if err := files.WriteAtomic(a.sourcesListPath(), []byte(a.sourcesList()), 0o644); err != nil {
		return err
	}
	conf, err := privateAptConfig(ctx, a.emptyDir())
	if err != nil {
		return err
	}
	return files.WriteAtomic(a.configPath(), conf, 0o644)
}

// sourcesList renders the private sources list.
func (a *apt) sourcesList() string {
	var b strings.Builder
	b.WriteString("# Written by bpfmatrix: the Debian suites searched for kernel packages.\n")
	for _, s := range debianSuites {
		uri := a.archive.Mirror
		if s.security {
			uri = a.archive.SecurityMirror
		}
		if uri == "" {
			continue
		}
		fmt.Fprintf(&b, "deb [arch=%s target=Packages signed-by=%s] %s %s main\n", archOrDefault(a.arch), a.archive.Keyring, uri, s.name)
	}
	return b.String()
}

func (a *apt) emptyDir() string   { return filepath.Join(a.dir, "empty.d") }
func (a *apt) tmpDir() string     { return filepath.Join(a.dir, "tmp") }
func (a *apt) configPath() string { return filepath.Join(a.dir, "apt.conf") }

// privateAptConfig keeps the network settings of the machine's apt configuration (Acquire::*:
// proxies, retries, index compression) and nothing else. The rest of apt.conf.d is left out on
// purpose: it holds hooks (APT::Update::Post-Invoke and friends) that act on the system, such
// as notifying PackageKit, refreshing the AppStream catalog or cleaning /var/cache/apt, and those
// must not run for a private download. The file is passed as APT_CONFIG, which apt reads before
// its configuration directory, so that Dir::Etc::Parts can point at an empty directory.
func privateAptConfig(ctx context.Context, emptyDir string) ([]byte, error) {
	out, err := command(ctx, "apt-config", "dump").Output()
	if err != nil {
		return nil, fmt.Errorf("apt-config dump: %w", err)
	}
	var b bytes.Buffer
	b.WriteString("// Written by bpfmatrix: this machine's Acquire::* apt settings, without hooks or state locations.\n")
	fmt.Fprintf(&b, "Dir::Etc::Parts %q;\nDir::Etc::Main \"/dev/null\";\n", emptyDir)
	// apt rebuilds its package cache from every index on each start unless it may keep one; with
	// ten suites that costs about two seconds per apt-get call.
	b.WriteString("Dir::Cache::pkgcache \"pkgcache.bin\";\nDir::Cache::srcpkgcache \"\";\n")
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Acquire::") {
			b.WriteString(l + "\n")
		}
	}
	return b.Bytes(), nil
}

// options are the apt options that make its state private, and make apt's architecture the
// one fetched whatever the host's is (and whatever foreign architectures dpkg was told of).
func (a *apt) options() []string {
	arch := string(archOrDefault(a.arch))
	return []string{
		"-o", "APT::Architecture=" + arch,
		"-o", "APT::Architectures=" + arch,
		"-o", "Dir::Etc::SourceList=" + a.sourcesListPath(),
		"-o", "Dir::Etc::SourceParts=" + a.emptyDir(),
		"-o", "Dir::State::Lists=" + a.listsDir(),
		"-o", "Dir::Cache=" + filepath.Join(a.dir, "cache"),
		"-o", "Dir::State::status=/dev/null",
		"-o", "APT::Sandbox::User=root",
	}
}

// run runs apt-get with the private state. apt does not always give up when the disk fills up
// (apt-get update was seen waiting for its http method forever on a full tmpfs), so a watch on
// the cache's free space ends the command and reports the full cache directory instead.
func (a *apt) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cacheDir := filepath.Dir(a.dir)
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if writes := args[0] == "update" || args[0] == "download"; writes {
		if diskFull(a.dir) {
			return nil, &cacheFullError{dir: cacheDir, detail: "apt-get " + args[0] + " needs room for its files"}
		}
		go watchDiskFull(runCtx, a.dir, func() { cancel(errDiskFull) })
	}
	// apt's own temporary files (signature checks write apt.sig.*, apt.data.* and more) go to a
	// directory of this call, removed after it and swept by later calls when a kill kept it.
	if err := os.MkdirAll(a.tmpDir(), 0o755); err != nil {
		return nil, fmt.Errorf("apt state: %w", err)
	}
	tmp, err := tempdir.New(a.tmpDir(), "apt-")
	if err != nil {
		return nil, fmt.Errorf("apt-get %s: %w", args[0], err)
	}
	defer tmp.Remove()
	cmd := command(runCtx, "apt-get", append(a.options(), args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive", "APT_CONFIG="+a.configPath(), "TMPDIR="+tmp.Path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if errors.Is(err, exec.ErrNotFound) {
		return nil, fmt.Errorf("apt-get not found: fetching Debian kernels needs apt (package apt): %w", err)
	}
	if errors.Is(context.Cause(runCtx), errDiskFull) {
		return out.Bytes(), &cacheFullError{dir: cacheDir, detail: "apt-get " + args[0] + " stopped: no space left"}
	}
	if line := noSpaceLine(out.String()); line != "" {
		return out.Bytes(), &cacheFullError{dir: cacheDir, detail: "apt-get " + args[0] + ": " + line}
	}
	return out.Bytes(), err
}

// listsFreshFor is how long package lists count as current: a second fetch within this time
// (another kernel, the test suite after the CLI) reuses them instead of asking the archive again.
const listsFreshFor = 10 * time.Minute

func (a *apt) stampPath() string { return filepath.Join(a.dir, "lists.updated") }

// stamp is the content of the lists.updated file: the time and the sources list the lists were
// refreshed for. The sources list is recorded here rather than compared with sources.list
// because writing the configuration (before a pinned download, say) rewrites sources.list, which
// would make lists of another mirror look current.
func (a *apt) stamp() string {
	return time.Now().UTC().Format(time.RFC3339) + "\n" + a.sourcesList()
}

// fresh reports whether the lists were refreshed less than listsFreshFor ago for the same
// sources (a changed mirror needs new lists).
func (a *apt) fresh() bool {
	st, err := os.Stat(a.stampPath())
	if err != nil || time.Since(st.ModTime()) >= listsFreshFor {
		return false
	}
	data, err := files.ReadRegular(a.stampPath(), files.Record)
	if err != nil {
		return false
	}
	_, sources, _ := strings.Cut(string(data), "\n")
	return sources == a.sourcesList()
}

// update refreshes the package lists of every suite, at most once per apt value, and not when
// another run refreshed them less than listsFreshFor ago unless force is set. A suite that fails
// (the archive moved an old release away) is reported to warn and skipped, as long as some suite's
// index is usable.
func (a *apt) update(ctx context.Context, force bool, warn func(string)) (bool, error) {
	if err := a.mu.lock(ctx); err != nil {
		return false, fmt.Errorf("apt-get update: %w", err)
	}
	defer a.mu.unlock()
	if a.updated.Load() {
		return false, nil
	}
	if err := a.prepare(ctx); err != nil {
		return false, err
	}
	a.prepared = true
	// Freshness is judged under the lock: a second process that waited here for the first one's
	// update finds the lists fresh and does not ask the archive again.
	unlock, err := lockFile(ctx, filepath.Join(a.dir, "bpfmatrix.lock"), true)
	if err != nil {
		return false, err
	}
	defer unlock()
	if !force && a.fresh() {
		a.updated.Store(true)
		return false, nil
	}
	out, runErr := a.run(ctx, a.dir, "update")
	if ctx.Err() != nil {
		return false, fmt.Errorf("apt-get update: %w", ctx.Err())
	}
	var full *cacheFullError
	if errors.As(runErr, &full) {
		// Lists that fit are no reason to go on: the kernel packages will not fit either.
		return false, runErr
	}
	problems, answered := updateProblems(out)
	// Some suites failing is survivable (an old release moved off the mirror); no suite answering
	// means the archive is unreachable, and resolving "newest" from old lists would mislead.
	if !answered {
		first := "no output"
		if len(problems) > 0 {
			first = problems[0]
		}
		return false, fmt.Errorf("Debian archive unreachable: apt-get update fetched none of %d suites (%s)", len(debianSuites), first)
	}
	if runErr != nil {
		// a.mu is held: list the index files without indexFiles, which takes it.
		if files, ierr := a.indexTargets(ctx); ierr != nil || len(files) == 0 {
			return false, fmt.Errorf("apt-get update: %w\n%s", runErr, strings.Join(problems, "\n"))
		}
	}
	for _, p := range problems {
		warn("apt: " + p)
	}
	a.updated.Store(true)
	if err := files.WriteAtomic(a.stampPath(), []byte(a.stamp()), 0o644); err != nil {
		return true, err
	}
	return true, nil
}

// updateProblems collects apt-get update's error and warning lines, and whether any suite's
// server answered: Hit (unchanged) or Get (downloaded).
func updateProblems(out []byte) (problems []string, answered bool) {
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "Hit:") || strings.HasPrefix(l, "Get:"):
			answered = true
		case strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "W: "):
			problems = append(problems, strings.TrimSpace(l))
		}
	}
	return problems, answered
}

// indexFile is one downloaded Packages index.
type indexFile struct {
	path  string
	suite string
}

// indexFiles lists the Packages indexes apt holds for the private sources list (those present
// on disk: a suite whose update failed has none).
func (a *apt) indexFiles(ctx context.Context) ([]indexFile, error) {
	if err := a.prepareOnce(ctx); err != nil {
		return nil, err
	}
	return a.indexTargets(ctx)
}

// indexTargets asks apt which Packages files belong to the private sources list. It takes no
// lock, so that update can call it while holding a.mu.
func (a *apt) indexTargets(ctx context.Context) ([]indexFile, error) {
	out, err := a.run(ctx, a.dir, "indextargets", "--format", "$(FILENAME)\t$(RELEASE)", "Identifier: Packages")
	if err != nil {
		return nil, fmt.Errorf("apt-get indextargets: %w: %s", err, bytes.TrimSpace(out))
	}
	var files []indexFile
	for _, l := range strings.Split(string(out), "\n") {
		path, suite, ok := strings.Cut(strings.TrimSpace(l), "\t")
		if !ok {
			continue
		}
		if _, err := os.Stat(path); err == nil {
			files = append(files, indexFile{path: path, suite: suite})
		}
	}
	return files, nil
}

// downloadPrefix starts the names of the directories apt-get download writes into, in debs/.
const downloadPrefix = ".download-"

// download fetches one exact package version into dir and returns the file's path. apt checks
// the file against the hash in the signed index.
func (a *apt) download(ctx context.Context, pkg, version, dir string) (string, error) {
	if err := a.prepareOnce(ctx); err != nil {
		return "", err
	}
	unlock, err := lockFile(ctx, filepath.Join(a.dir, "bpfmatrix.lock"), false)
	if err != nil {
		return "", err
	}
	defer unlock()
	td, err := tempdir.New(dir, downloadPrefix)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", pkg, err)
	}
	defer td.Remove()
	tmp := td.Path
	out, err := a.run(ctx, tmp, "download", pkg+"="+version)
	var full *cacheFullError
	if errors.As(err, &full) {
		return "", fmt.Errorf("download %s=%s: %w", pkg, version, err)
	}
	if err != nil {
		msg := string(bytes.TrimSpace(out))
		if strings.Contains(msg, "Unable to locate package") || strings.Contains(msg, "was not found") || strings.Contains(msg, "Can't select version") {
			return "", fmt.Errorf("download %s=%s: %w", pkg, version, ErrNotInIndex)
		}
		return "", fmt.Errorf("apt-get download %s=%s: %w: %s", pkg, version, err, lastLines(msg, 5))
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", pkg, err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".deb") {
			dst := filepath.Join(dir, debFileName(pkg, version, a.arch))
			if err := os.Rename(filepath.Join(tmp, e.Name()), dst); err != nil {
				return "", fmt.Errorf("download %s: %w", pkg, err)
			}
			return dst, nil
		}
	}
	return "", fmt.Errorf("apt-get download %s=%s wrote no .deb: %s", pkg, version, lastLines(string(out), 5))
}

// command prepares a child process that ctx ends completely: the whole process group is killed,
// because apt-get's download methods outlive a killed parent and
// keep its output pipe open, and WaitDelay bounds the wait for any straggler that escaped.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// debFileName names a cached package of architecture arch (empty: amd64) the way apt does (an
// epoch's colon is escaped).
func debFileName(pkg, version string, arch observation.Arch) string {
	return pkg + "_" + strings.ReplaceAll(version, ":", "%3a") + "_" + string(archOrDefault(arch)) + ".deb"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
