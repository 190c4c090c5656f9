package vmimages

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
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

// suiteRank orders suites for deterministic tie breaks (the same package version in two suites).
func suiteRank(suite string) int {
	for i, s := range debianSuites {
		if s.name == suite {
			return i
		}
	}
	return len(debianSuites)
}

// ErrNotInIndex reports that the archive's package index has no such package version.
var ErrNotInIndex = errors.New("not in the Debian package index")

// apt runs the machine's apt with a private state directory: its own sources list, package lists
// and cache, and an empty dpkg status, so that the system's apt state is never read or changed.
// apt itself downloads and checks the archive's signatures and the packages' hashes.
type apt struct {
	dir     string // <cache>/apt
	archive DebianArchive

	// mu serializes writing the private configuration and running apt-get update. It is held
	// across apt-get update, so every method that takes it must not call another that does.
	mu       ctxMutex
	prepared bool        // guarded by mu
	updated  atomic.Bool // the lists were refreshed (or found fresh) during this fetch
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
	for _, d := range []string{a.dir, a.emptyDir(), filepath.Join(a.listsDir(), "partial"), filepath.Join(a.dir, "cache", "archives", "partial")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("apt state: %w", err)
		}
	}
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
		fmt.Fprintf(&b, "deb [arch=amd64 target=Packages signed-by=%s] %s %s main\n", a.archive.Keyring, uri, s.name)
	}
	return b.String()
}

func (a *apt) emptyDir() string   { return filepath.Join(a.dir, "empty.d") }
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

// options are the apt options that make its state private.
func (a *apt) options() []string {
	return []string{
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
	cmd := command(runCtx, "apt-get", append(a.options(), args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive", "APT_CONFIG="+a.configPath())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
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
	data, err := os.ReadFile(a.stampPath())
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
	if !force && a.fresh() {
		a.updated.Store(true)
		return false, nil
	}
	if err := a.prepare(ctx); err != nil {
		return false, err
	}
	a.prepared = true
	unlock, err := lockFile(ctx, filepath.Join(a.dir, "bpfmatrix.lock"), true)
	if err != nil {
		return false, err
	}
	defer unlock()
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

// loadIndex reads the kernel-related stanzas of every Packages index. apt stores the indexes
// compressed in whatever format its configuration chooses (lz4 on Debian's container images), so
// they are read through apt-helper cat-file, which knows all of them.
func (a *apt) loadIndex(ctx context.Context) (*packageIndex, error) {
	files, err := a.indexFiles(ctx)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Debian package index in %s: run without --offline to download it", a.listsDir())
	}
	idx := &packageIndex{}
	for _, f := range files {
		r, wait, err := openIndex(ctx, f.path)
		if err != nil {
			return nil, err
		}
		perr := idx.add(r, f.suite, f.path)
		werr := wait()
		if perr != nil {
			return nil, perr
		}
		if werr != nil {
			return nil, fmt.Errorf("read %s: %w", f.path, werr)
		}
	}
	return idx, nil
}

// openIndex streams a (possibly compressed) index file.
func openIndex(ctx context.Context, path string) (io.Reader, func() error, error) {
	helper := "/usr/lib/apt/apt-helper"
	if _, err := os.Stat(helper); err != nil {
		if p, lerr := exec.LookPath("apt-helper"); lerr == nil {
			helper = p
		} else {
			helper = ""
		}
	}
	if helper != "" {
		cmd := command(ctx, helper, "cat-file", path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, fmt.Errorf("apt-helper cat-file %s: %w", path, err)
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, fmt.Errorf("apt-helper cat-file %s: %w", path, err)
		}
		return out, func() error {
			_, _ = io.Copy(io.Discard, out)
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("apt-helper cat-file: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
			}
			return nil
		}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read index: %w", err)
	}
	switch filepath.Ext(path) {
	case ".gz":
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("read index %s: %w", path, err)
		}
		return zr, f.Close, nil
	case "", ".Packages":
		return f, f.Close, nil
	}
	f.Close()
	return nil, nil, fmt.Errorf("read index %s: compressed index and no apt-helper to read it", path)
}

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
	tmp, err := os.MkdirTemp(dir, ".download-")
	if err != nil {
		return "", fmt.Errorf("download %s: %w", pkg, err)
	}
	defer os.RemoveAll(tmp)
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
			dst := filepath.Join(dir, debFileName(pkg, version))
			if err := os.Rename(filepath.Join(tmp, e.Name()), dst); err != nil {
				return "", fmt.Errorf("download %s: %w", pkg, err)
			}
			return dst, nil
		}
	}
	return "", fmt.Errorf("apt-get download %s=%s wrote no .deb: %s", pkg, version, lastLines(string(out), 5))
}

// command prepares a child process that ctx ends completely: the whole process group is killed,
// because apt-get's download methods (and dpkg-deb's decompressor) outlive a killed parent and
// keep its output pipe open, and WaitDelay bounds the wait for any straggler that escaped.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// debFileName names a cached package the way apt does (an epoch's colon is escaped).
func debFileName(pkg, version string) string {
	return pkg + "_" + strings.ReplaceAll(version, ":", "%3a") + "_amd64.deb"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// pkgRecord is the part of a Packages stanza the resolver needs.
type pkgRecord struct {
	Package       string
	Version       string
	Architecture  string
	InstalledSize int64 // KiB
	Size          int64 // bytes of the .deb
	SHA256        string
	Depends       string
	Suite         string
}

// packageIndex holds the kernel packages ("linux-*") of every suite searched.
type packageIndex struct {
	byName map[string][]pkgRecord
}

// add parses one Packages file. Only linux-* stanzas are kept: the rest of the archive (tens of
// thousands of packages per suite) is not needed and would cost memory.
func (idx *packageIndex) add(r io.Reader, suite, file string) error {
	if idx.byName == nil {
		idx.byName = map[string][]pkgRecord{}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	var rec pkgRecord
	keep := false
	flush := func() {
		if keep && rec.Package != "" {
			rec.Suite = suite
			idx.byName[rec.Package] = append(idx.byName[rec.Package], rec)
		}
		rec, keep = pkgRecord{}, false
	}
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" {
			flush()
			continue
		}
		if text[0] == ' ' || text[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(text, ":")
		if !ok {
			return fmt.Errorf("%s:%d: malformed Packages line", file, line)
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Package":
			rec.Package = v
			keep = strings.HasPrefix(v, "linux-")
		case "Version":
			rec.Version = v
		case "Architecture":
			rec.Architecture = v
		case "Installed-Size":
			rec.InstalledSize, _ = strconv.ParseInt(v, 10, 64)
		case "Size":
			rec.Size, _ = strconv.ParseInt(v, 10, 64)
		case "SHA256":
			rec.SHA256 = v
		case "Depends":
			rec.Depends = v
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	flush()
	return nil
}

// lookup finds an exact package version.
func (idx *packageIndex) lookup(pkg, version string) (pkgRecord, bool) {
	var best pkgRecord
	found := false
	for _, r := range idx.byName[pkg] {
		if r.Version == version && (!found || suiteRank(r.Suite) < suiteRank(best.Suite)) {
			best, found = r, true
		}
	}
	return best, found
}

// minKernelInstalledKiB separates packages that hold a kernel image from meta packages of the
// same name shape: a cloud-amd64 vmlinuz alone is over 10 MiB, while the meta packages (the
// "linux-image-<ver>" of 6.19 and later, "linux-image-6.12-cloud-amd64") install a few KiB.
const minKernelInstalledKiB = 4096

// kernelCandidate reports whether a package holds a Debian cloud-amd64 kernel image, and which
// upstream version: "linux-image-<abi>-cloud-amd64" up to 6.18, "linux-binary-<abi>-cloud-amd64"
// from 6.19. Unsigned twins (same kernel without the Secure Boot signature) and debug packages
// are left out so that each kernel build is one candidate.
func kernelCandidate(r pkgRecord) (upstream string, ok bool) {
	name := r.Package
	var abi string
	switch {
	case strings.HasPrefix(name, "linux-image-"):
		abi = strings.TrimPrefix(name, "linux-image-")
	case strings.HasPrefix(name, "linux-binary-"):
		abi = strings.TrimPrefix(name, "linux-binary-")
	default:
		return "", false
	}
	if !strings.HasSuffix(abi, "-cloud-amd64") || strings.HasPrefix(abi, "unsigned-") || strings.HasPrefix(abi, "cloud-amd64") {
		return "", false
	}
	if r.Architecture != "amd64" || r.InstalledSize < minKernelInstalledKiB {
		return "", false
	}
	up, err := kernelUpstreamVersion(r.Version)
	if err != nil {
		return "", false
	}
	return up, true
}

// resolve picks the newest kernel package of a series, or of one pinned upstream version, by
// Debian version order (so 6.1.192-2 from bookworm-security beats 6.1.180-1~deb11u1 from
// bullseye-security, and 7.3.4-1 beats 7.3~rc7-1~exp1).
func (idx *packageIndex) resolve(series, version string) (pkgRecord, string, error) {
	var best pkgRecord
	var bestUp string
	found := false
	var seen []string
	for _, recs := range idx.byName {
		for _, r := range recs {
			up, ok := kernelCandidate(r)
			if !ok || !inSeries(up, series) {
				continue
			}
			seen = append(seen, up)
			if version != "" && up != version {
				continue
			}
			c := 1
			if found {
				c = CompareDebianVersions(r.Version, best.Version)
				if c == 0 {
					// Same version under two names or suites: prefer the older suite (the stable
					// release over backports), then the name, so the result never depends on map order.
					switch {
					case suiteRank(r.Suite) != suiteRank(best.Suite):
						c = suiteRank(best.Suite) - suiteRank(r.Suite)
					default:
						c = strings.Compare(best.Package, r.Package)
					}
				}
			}
			if c > 0 {
				best, bestUp, found = r, up, true
			}
		}
	}
	if !found {
		if version != "" && len(seen) > 0 {
			return best, "", fmt.Errorf("no cloud-amd64 kernel %s in the Debian archive (series %s has %s): %w", version, series, summarizeVersions(seen), ErrNotInIndex)
		}
		return best, "", fmt.Errorf("no cloud-amd64 kernel of series %s in the searched Debian suites: %w", series, ErrNotInIndex)
	}
	return best, bestUp, nil
}

// summarizeVersions lists distinct versions, newest first, at most eight.
func summarizeVersions(vs []string) string {
	uniq := map[string]bool{}
	var out []string
	for _, v := range vs {
		if !uniq[v] {
			uniq[v] = true
			out = append(out, v)
		}
	}
	sortVersionsDesc(out)
	if len(out) > 8 {
		out = append(out[:8], "...")
	}
	return strings.Join(out, ", ")
}

// sortVersionsDesc sorts upstream kernel versions newest first; "7.3-rc7" is compared in its
// Debian spelling "7.3~rc7" so that it sorts before "7.3".
func sortVersionsDesc(vs []string) {
	sort.Slice(vs, func(i, j int) bool {
		return CompareDebianVersions(strings.Replace(vs[i], "-", "~", 1), strings.Replace(vs[j], "-", "~", 1)) > 0
	})
}

// exactDependency finds the exact-version dependency named prefix+"*" in a Depends field, e.g.
// "linux-base-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1)": the package that ships the config
// of 6.19 and later kernels.
func exactDependency(depends, prefix string) (pkg, version string, ok bool) {
	for _, alt := range strings.Split(depends, ",") {
		for _, d := range strings.Split(alt, "|") {
			d = strings.TrimSpace(d)
			name, rest, _ := strings.Cut(d, " ")
			rest = strings.TrimSpace(rest)
			if !strings.HasPrefix(name, prefix) || !strings.HasPrefix(rest, "(=") {
				continue
			}
			v := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(rest, "(="), ")"))
			return name, v, true
		}
	}
	return "", "", false
}

// lockFile takes an advisory lock (exclusive, or shared) on path, waiting until ctx ends. It
// keeps two bpfmatrix processes (a CLI fetch and a test run) from updating the same apt lists
// at once; apt would otherwise fail on its own lock.
func lockFile(ctx context.Context, path string, exclusive bool) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err := flock(f, exclusive)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, errWouldBlock) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
