package vmimages

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/kconfig"
	"github.com/bpfmatrix/bpfmatrix/internal/strictyaml"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// DebianSource is a "debian" entry: a Debian cloud kernel series (cloud-amd64, or cloud-arm64
// for a Fetcher of arm64), resolved to the newest build the archive serves, or to a pinned
// upstream version of it.
//
//	debian: {series: "6.12"}                       # newest 6.12 build
//	debian: {series: "6.12", version: "6.12.117"}  # that upstream version (newest Debian build of it)
type DebianSource struct {
	Series  string // major.minor
	Version string // optional upstream version within the series (6.12.117, 7.3-rc7)
}

var (
	seriesPattern  = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	versionPattern = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?(-rc[0-9]+)?$`)
)

func parseDebianSource(n *yaml.Node, file, _ string) (Source, error) {
	fields, err := strictyaml.Fields(n, file, "series", "version")
	if err != nil {
		return nil, err
	}
	s := &DebianSource{}
	var sn *yaml.Node
	if s.Series, sn, err = requiredScalar(fields, n, file, "debian", "series", ` (e.g. series: "6.12")`); err != nil {
		return nil, err
	}
	if !seriesPattern.MatchString(s.Series) {
		return nil, fmt.Errorf("%s:%d: debian series %q: expected major.minor, e.g. \"6.12\"", file, sn.Line, s.Series)
	}
	if vn, ok := fields["version"]; ok {
		if s.Version, err = scalar(vn, file, "version"); err != nil {
			return nil, err
		}
		if !versionPattern.MatchString(s.Version) {
			return nil, fmt.Errorf("%s:%d: debian version %q: expected an upstream kernel version, e.g. \"6.12.117\" or \"7.3-rc7\"", file, vn.Line, s.Version)
		}
		if !inSeries(s.Version, s.Series) {
			return nil, fmt.Errorf("%s:%d: debian version %q is not in series %q", file, vn.Line, s.Version, s.Series)
		}
	}
	return s, nil
}

// Kind implements Source.
func (s *DebianSource) Kind() string { return "debian" }

// Spec implements Source: "debian series=6.12" or "debian series=6.12 version=6.12.117".
func (s *DebianSource) Spec() string {
	return specOf("debian", "series="+s.Series, "version", s.Version)
}

func (s *DebianSource) fetch(ctx context.Context, run *fetchRun, e Entry, locked *LockEntry) (*Manifest, LockEntry, error) {
	if locked != nil {
		return s.fetchLocked(ctx, run, e.Name, *locked)
	}
	if run.f.Offline {
		flag := ""
		if run.arch != observation.DefaultArch {
			flag = " --arch " + string(run.arch)
		}
		return nil, LockEntry{}, errors.New("not pinned in kernels.lock, and --offline forbids resolving it from the Debian archive: run `bpfmatrix kernels fetch" + flag + "` once with network")
	}
	idx, err := run.packageIndex(ctx)
	if err != nil {
		return nil, LockEntry{}, err
	}
	rec, upstream, err := idx.resolve(run.arch, s.Series, s.Version)
	if err != nil {
		return nil, LockEntry{}, err
	}
	run.step(Step{Kernel: e.Name, Message: fmt.Sprintf("resolved %s %s (%s)", rec.Package, rec.Version, rec.Suite)})
	// --update that finds the pinned build is still the newest keeps the pin and the cached image.
	if prev := run.lock.FindArch(e.Name, run.arch); prev != nil && prev.Source == s.Spec() && prev.Package == rec.Package && prev.DebianVersion == rec.Version && prev.DebSHA256 == rec.SHA256 {
		if _, ok, err := run.cached(ctx, e.Name, prev.SHA256); err != nil {
			return nil, LockEntry{}, err
		} else if ok {
			return s.fetchLocked(ctx, run, e.Name, *prev)
		}
	}
	le := LockEntry{
		Name: e.Name, Source: s.Spec(), Version: upstream, Package: rec.Package,
		DebianVersion: rec.Version, Suite: rec.Suite, DebSHA256: rec.SHA256, DebPath: rec.Filename,
	}
	// 6.19 and later ship the config in linux-base-<release>, an exact dependency of the image.
	missingBase := ""
	if dep, ver, ok := exactDependency(rec.Depends, "linux-base-"); ok {
		if drec, found := idx.lookup(dep, ver); found {
			le.ConfigPackage, le.ConfigDebSHA256, le.ConfigDebPath = dep, drec.SHA256, drec.Filename
		} else {
			missingBase = dep + " " + ver
		}
	}
	pinModulesPackage(run, e.Name, idx, rec, &le)
	m, err := s.install(ctx, run, e.Name, &le, rec.Size)
	if err != nil {
		return nil, LockEntry{}, err
	}
	if m.Config == "" && missingBase != "" {
		// Seen for 6.19 to 7.1: the signed image lingers in backports after the unsigned build
		// (and its linux-base) was superseded.
		run.step(Step{Kernel: e.Name, Message: "warning: no kernel config: the image package has none and " + missingBase + " (which would) is no longer in the archive"})
	}
	le.Release, le.SHA256 = m.Release, m.SHA256
	if m.Config == "" {
		le.ConfigPackage, le.ConfigDebSHA256, le.ConfigDebPath = "", "", ""
	}
	return m, le, nil
}

// fetchLocked returns the image of a pin, from the cache or extracted again from its packages.
// An entry cached by older extraction rules (without the kfunc modules), or without the modules
// package its pin now names, is extracted again without asking when the fetch may go online,
// from the image package the cache still holds (it is not downloaded again for this): a pin of
// 6.19 or later made before modules packages were pinned gets its modules package then. Offline,
// or when that fails, the old entry serves, with a warning.
func (s *DebianSource) fetchLocked(ctx context.Context, run *fetchRun, kernel string, le LockEntry) (*Manifest, LockEntry, error) {
	m, ok, err := run.cached(ctx, kernel, le.SHA256)
	if err != nil || (ok && !m.stale() && m.ModulesPackage == le.ModulesPackage) {
		return m, le, err
	}
	if !ok {
		m, err := s.install(ctx, run, kernel, &le, 0)
		if err != nil {
			return nil, LockEntry{}, err
		}
		run.addPoolPaths(ctx, &le)
		return m, le, nil
	}
	old := m
	deb := filepath.Join(run.cache.debsDir(), debFileName(le.Package, le.DebianVersion, run.arch))
	if cached, _ := run.cachedDeb(ctx, kernel, deb, le.DebSHA256); run.f.Offline || !cached {
		run.step(Step{Kernel: kernel, Message: "warning: the cached image has no kfunc modules and is not extracted again " +
			"(offline, or its package is no longer cached): its guests probe no module kfuncs"})
		return old, le, nil
	}
	run.step(Step{Kernel: kernel, Message: "the cached image predates the kfunc modules: extracting it again"})
	pinned := le
	if le.ModulesPackage == "" && needsModulesPackage(le.Package) {
		if idx, err := run.packageIndex(ctx); err == nil {
			if rec, found := idx.lookup(le.Package, le.DebianVersion); found {
				pinModulesPackage(run, kernel, idx, rec, &le)
			}
		}
	}
	if m, err = s.install(ctx, run, kernel, &le, 0); err != nil {
		run.step(Step{Kernel: kernel, Message: "warning: using the cached image without kfunc modules: " + err.Error()})
		return old, pinned, nil
	}
	run.addPoolPaths(ctx, &le)
	return m, le, nil
}

// addPoolPaths fills in the archive paths (deb_path and its kin) that a pin made before paths
// were kept lacks, when this run updated the package index anyway (its downloads went through
// it): the next fetch of the pin on a machine without the index then downloads without it. A path
// is taken only from the record with the pinned sha256.
func (r *fetchRun) addPoolPaths(ctx context.Context, le *LockEntry) {
	parts := []struct {
		pkg, sum string
		path     *string
	}{
		{le.Package, le.DebSHA256, &le.DebPath},
		{le.ConfigPackage, le.ConfigDebSHA256, &le.ConfigDebPath},
		{le.ModulesPackage, le.ModulesDebSHA256, &le.ModulesDebPath},
	}
	missing := false
	for _, p := range parts {
		missing = missing || (p.pkg != "" && *p.path == "")
	}
	if !missing || r.f.Offline {
		return
	}
	if a, err := r.getApt(); err != nil || !a.updated.Load() {
		return
	}
	idx, err := r.packageIndex(ctx)
	if err != nil {
		return
	}
	for _, p := range parts {
		if rec, ok := idx.lookup(p.pkg, le.DebianVersion); ok && p.pkg != "" && *p.path == "" && rec.SHA256 == p.sum {
			*p.path = rec.Filename
		}
	}
}

// needsModulesPackage says an image package holds no modules: from 6.19 the image is in
// linux-binary-<release> and the modules in linux-modules-<release>.
func needsModulesPackage(pkg string) bool { return strings.HasPrefix(pkg, "linux-binary-") }

// pinModulesPackage records in le the package holding the modules of rec, an image package
// that holds none: the linux-image-<release> meta package of the same version depends on it
// exactly. When the archive no longer has it (superseded builds of 6.19 to 7.1), the kernel is
// fetched without its kfunc modules, with a warning.
func pinModulesPackage(run *fetchRun, kernel string, idx *packageIndex, rec pkgRecord, le *LockEntry) {
	if !needsModulesPackage(rec.Package) {
		return
	}
	release := strings.TrimPrefix(rec.Package, "linux-binary-")
	meta, found := idx.lookup("linux-image-"+release, rec.Version)
	dep, ver, ok := exactDependency(meta.Depends, "linux-modules-")
	if !found || !ok {
		run.step(Step{Kernel: kernel, Message: "warning: no kfunc modules: the archive names no modules package of " + rec.Package + " " + rec.Version})
		return
	}
	mrec, found := idx.lookup(dep, ver)
	if !found {
		run.step(Step{Kernel: kernel, Message: "warning: no kfunc modules: " + dep + " " + ver + " is no longer in the archive"})
		return
	}
	le.ModulesPackage, le.ModulesDebSHA256, le.ModulesDebPath = dep, mrec.SHA256, mrec.Filename
	le.KfuncModules = "" // found again in the modules package
}

// install extracts a pinned package into the cache (downloading it unless it is cached) and
// returns the entry's manifest. When le already names a vmlinuz sha256, the package must produce
// exactly that image. A pin that names no kfunc modules yet gets those the extraction found.
func (s *DebianSource) install(ctx context.Context, run *fetchRun, kernel string, le *LockEntry, size int64) (*Manifest, error) {
	deb, err := run.ensureDeb(ctx, kernel, debRef{
		pkg: le.Package, version: le.DebianVersion, sum: le.DebSHA256, size: size, pool: le.DebPath, suite: le.Suite,
	})
	if err != nil {
		return nil, err
	}
	st, err := run.cache.newStaging()
	if err != nil {
		return nil, err
	}
	defer st.Remove() // nothing left to remove after a successful store (renamed)
	staging := st.Path
	pinned := le.pinnedKfuncModules()
	c, err := extractDeb(ctx, deb, staging, extractOptions{kfuncModules: pinned})
	if err != nil {
		return nil, err
	}
	if !c.Vmlinuz {
		return nil, fmt.Errorf("%s %s holds no vmlinuz (a meta package?)", le.Package, le.DebianVersion)
	}
	if !c.Config && le.ConfigPackage != "" {
		ref := debRef{pkg: le.ConfigPackage, version: le.DebianVersion, sum: le.ConfigDebSHA256, pool: le.ConfigDebPath, suite: le.Suite}
		cc, err := extractPart(ctx, run, kernel, ref, staging, c, pinned)
		if err != nil {
			return nil, fmt.Errorf("config package: %w", err)
		}
		c.Config = cc.Config
		c.Modules = append(c.Modules, cc.Modules...)
		c.Builtin = cc.Builtin
	}
	if le.ModulesPackage != "" {
		ref := debRef{pkg: le.ModulesPackage, version: le.DebianVersion, sum: le.ModulesDebSHA256, pool: le.ModulesDebPath, suite: le.Suite}
		mc, err := extractPart(ctx, run, kernel, ref, staging, c, pinned)
		if err != nil {
			return nil, fmt.Errorf("modules package: %w", err)
		}
		c.Modules = append(c.Modules, mc.Modules...)
		c.KfuncModules = append(c.KfuncModules, mc.KfuncModules...)
		c.KfuncRoots = append(c.KfuncRoots, mc.KfuncRoots...)
		c.Notes = append(c.Notes, mc.Notes...)
	}
	for _, n := range c.Notes {
		run.step(Step{Kernel: kernel, Message: "warning: " + n})
	}
	sum, err := files.SHA256(ctx, staging+"/vmlinuz")
	if err != nil {
		return nil, err
	}
	if le.SHA256 != "" && sum != le.SHA256 {
		return nil, fmt.Errorf("vmlinuz of %s %s has sha256 %s, kernels.lock pins %s", le.Package, le.DebianVersion, sum, le.SHA256)
	}
	if err := checkRelease(staging+"/vmlinuz", run.arch, le.Package, c.Release); err != nil {
		return nil, err
	}
	if err := checkVirtioModules(staging, c); err != nil {
		run.step(Step{Kernel: kernel, Message: "warning: " + err.Error()})
	}
	m := &Manifest{
		SHA256: sum, Source: s.Spec(), Arch: lockArch(run.arch), Package: le.Package, DebianVersion: le.DebianVersion,
		Version: le.Version, Release: c.Release, Suite: le.Suite, Modules: c.Modules,
		KfuncModules: c.KfuncModules, ModulesPackage: le.ModulesPackage, Layout: debianLayout,
	}
	if le.ConfigPackage != "" && c.Config {
		m.ConfigPackage = le.ConfigPackage
	}
	if c.Config {
		m.Config = "config"
	}
	if err := run.cache.store(ctx, st, m); err != nil {
		return nil, err
	}
	if le.KfuncModules == "" {
		le.setKfuncModules(c.KfuncRoots)
	}
	run.step(Step{Kernel: kernel, Message: extractedMessage(m)})
	return run.cache.load(ctx, sum)
}

// extractedMessage says what a Debian kernel's packages gave: the progress line of install.
func extractedMessage(m *Manifest) string {
	mods := ""
	if len(m.Modules) > 0 {
		mods = fmt.Sprintf(", %d virtio modules", len(m.Modules))
	}
	if len(m.KfuncModules) > 0 {
		mods += fmt.Sprintf(", %d kfunc modules and dependencies", len(m.KfuncModules))
	}
	cfg := ", no config"
	if m.Config != "" {
		cfg = ", config"
	}
	return fmt.Sprintf("extracted vmlinuz %s%s%s", m.Release, cfg, mods)
}

// extractPart extracts a package that holds part of a kernel (its config, its modules) into
// staging beside c, what the image package held, and checks that it is of the same release;
// kfuncModules are the pin's kfunc modules (see extractOptions).
func extractPart(ctx context.Context, run *fetchRun, kernel string, ref debRef, staging string, c *debContents, kfuncModules []string) (*debContents, error) {
	deb, err := run.ensureDeb(ctx, kernel, ref)
	if err != nil {
		return nil, err
	}
	pc, err := extractDeb(ctx, deb, staging, extractOptions{builtin: c.Builtin, kfuncModules: kfuncModules})
	if err != nil {
		return nil, err
	}
	if pc.Release != c.Release {
		return nil, fmt.Errorf("%s is for release %s, the image is %s", ref.pkg, pc.Release, c.Release)
	}
	return pc, nil
}

// checkRelease checks that the vmlinuz of a package is an image of arch and names the release
// its path in the package does.
func checkRelease(vmlinuz string, arch observation.Arch, pkg, release string) error {
	hdr, ok, err := vmlinuzRelease(vmlinuz, arch)
	if err != nil {
		return fmt.Errorf("%s: %w", pkg, err)
	}
	if ok && hdr != release {
		return fmt.Errorf("%s: vmlinuz says release %s, its path says %s", pkg, hdr, release)
	}
	return nil
}

// checkVirtioModules warns when the config builds the virtio console as a module but the package
// did not ship it: a guest of that kernel has no virtio-serial channel.
func checkVirtioModules(staging string, c *debContents) error {
	if !c.Config {
		return nil
	}
	opts, err := kconfig.Read(staging + "/config")
	if err != nil {
		return err
	}
	for _, o := range []string{"CONFIG_VIRTIO", "CONFIG_VIRTIO_PCI", "CONFIG_VIRTIO_CONSOLE"} {
		if opts[o] == "m" && len(c.Modules) == 0 {
			return errors.New(o + "=m but the package ships no virtio modules: no virtio-serial in this guest")
		}
	}
	return nil
}
