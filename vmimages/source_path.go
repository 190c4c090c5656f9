package vmimages

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/strictyaml"
)

// PathSource is a "path" entry: a kernel image on the local disk, such as the bzImage that
// `vng --build` or `make bzImage` leaves in arch/x86/boot/. Relative paths are relative to
// kernels.yaml. Two forms:
//
//	path: ../linux/arch/x86/boot/bzImage
//	path: {image: ../linux/arch/x86/boot/bzImage, config: ../linux/.config}
//
// An entry with arch: arm64 names an arm64 Image instead (arch/arm64/boot/Image, or Image.gz).
// The image is copied into the cache, so rebuilding the kernel during a run does not change what
// the run boots; kernels.lock pins its sha256, and a rebuilt image needs `kernels fetch --update`.
type PathSource struct {
	Image  string // as written in kernels.yaml
	Config string // optional .config, as written
	dir    string // kernels.yaml's directory
}

func parsePathSource(n *yaml.Node, file, dir string) (Source, error) {
	s := &PathSource{dir: dir}
	var err error
	if n.Kind == yaml.MappingNode {
		fields, ferr := strictyaml.Fields(n, file, "image", "config")
		if ferr != nil {
			return nil, ferr
		}
		if s.Image, _, err = requiredScalar(fields, n, file, "path", "image", ""); err != nil {
			return nil, err
		}
		if cn, ok := fields["config"]; ok {
			if s.Config, err = scalar(cn, file, "config"); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
	if s.Image, err = scalar(n, file, "path"); err != nil {
		return nil, err
	}
	return s, nil
}

// Kind implements Source.
func (s *PathSource) Kind() string { return "path" }

// Spec implements Source: "path <image>" or "path <image> config=<config>", as written.
func (s *PathSource) Spec() string {
	return specOf("path", s.Image, "config", s.Config)
}

func (s *PathSource) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.dir, p)
}

// CheckFiles refuses, before anything is fetched or booted, an entry whose local files cannot
// be what it says: a path entry's image or config that is there but is not a regular file of a
// kernel image's size (a device such as /dev/zero, a FIFO, a directory) is an error wrapping
// files.ErrRefused that names the kernel, its line and the path. A missing file is left to the
// fetch, which says so; entries of other sources have no local files.
func (e Entry) CheckFiles() error {
	s, ok := e.Source.(*PathSource)
	if !ok {
		return nil
	}
	for _, f := range []struct{ key, path string }{{"image", s.Image}, {"config", s.Config}} {
		if f.path == "" {
			continue
		}
		if err := files.CheckRegular(s.abs(f.path), files.Image); errors.Is(err, files.ErrRefused) {
			return fmt.Errorf("kernel %s (%s:%d): %s: %w", e.Name, e.File, e.Line, f.key, err)
		}
	}
	return nil
}

var leadingVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?`)

func (s *PathSource) fetch(ctx context.Context, run *fetchRun, e Entry, locked *LockEntry) (*Manifest, LockEntry, error) {
	img := s.abs(s.Image)
	sum, err := files.SHA256(ctx, img)
	if err != nil {
		return nil, LockEntry{}, fmt.Errorf("kernel image: %w", err)
	}
	if locked != nil && locked.SHA256 != sum {
		return nil, LockEntry{}, fmt.Errorf("%s changed since kernels.lock pinned it (sha256 %s, now %s): run `bpfmatrix kernels fetch --update %s` to use the new build", img, shortSum(locked.SHA256), shortSum(sum), e.Name)
	}
	le := LockEntry{Name: e.Name, Source: s.Spec(), SHA256: sum}
	m, ok, err := run.cached(ctx, e.Name, sum)
	if err != nil {
		return nil, LockEntry{}, err
	}
	if ok {
		if m.Source == s.Spec() {
			le.Version, le.Release = m.Version, m.Release
			return m, le, nil
		}
		if m.Package != "" {
			// A copy of a Debian build the cache holds already: that entry knows the build's
			// config and modules, and replacing it would take them from the Debian kernel too
			// (whose guest then has no virtio modules). Use it as it is.
			run.step(Step{Kernel: e.Name, Message: fmt.Sprintf("%s is the cached Debian build %s %s: using that entry", img, m.Package, m.DebianVersion)})
			le.Version, le.Release = m.Version, m.Release
			return m, le, nil
		}
		// The same image under another spec (a different config file): store it afresh.
		if err := os.RemoveAll(run.cache.imageDir(sum)); err != nil {
			return nil, LockEntry{}, fmt.Errorf("cache: %w", err)
		}
	}
	if m, err = s.store(ctx, run, e.Name, img, sum); err != nil {
		return nil, LockEntry{}, err
	}
	le.Version, le.Release = m.Version, m.Release
	return m, le, nil
}

// store copies the image whose hash is sum (and the config) into a new cache entry.
func (s *PathSource) store(ctx context.Context, run *fetchRun, kernel, img, sum string) (*Manifest, error) {
	release, ok, err := vmlinuzRelease(img, run.arch)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s is not an x86 bzImage (no boot protocol header): point the entry at arch/x86/boot/bzImage, or give it the arch of its image", img)
	}
	st, err := run.cache.newStaging()
	if err != nil {
		return nil, err
	}
	defer st.Remove()
	if err := copyFile(ctx, img, filepath.Join(st.Path, "vmlinuz")); err != nil {
		return nil, fmt.Errorf("copy image: %w", err)
	}
	// Hash the copy: the file may have been rebuilt between the first hash and the copy.
	if got, err := files.SHA256(ctx, filepath.Join(st.Path, "vmlinuz")); err != nil || got != sum {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s changed while it was copied; run again after the build finishes", img)
	}
	m := &Manifest{SHA256: sum, Source: s.Spec(), Arch: lockArch(run.arch), Release: release, Version: leadingVersion.FindString(release)}
	if s.Config != "" {
		if err := copyFile(ctx, s.abs(s.Config), filepath.Join(st.Path, "config")); err != nil {
			return nil, fmt.Errorf("copy config: %w", err)
		}
		m.Config = "config"
	}
	if err := run.cache.store(ctx, st, m); err != nil {
		return nil, err
	}
	run.step(Step{Kernel: kernel, Message: fmt.Sprintf("copied %s (release %s)", img, release)})
	return run.cache.load(ctx, sum)
}
