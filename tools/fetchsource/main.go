// Command fetchsource downloads Debian's linux-source package of one kernel series and unpacks
// the parts of its tree that hold BPF kfunc registrations, for the generator of
// internal/kernelsrc/testdata. It lives outside internal/ because it fetches through vmimages,
// which internal packages may not import. It touches none of the machine's apt state: apt runs with a
// private sources list, lists, cache and an empty dpkg status under the output directory, and
// the archive's address comes from the machine's apt configuration (or BPFMATRIX_DEBIAN_MIRROR
// and BPFMATRIX_DEBIAN_SECURITY_MIRROR), as for the kernel images.
//
//	go run ./tools/fetchsource -series 6.12 -version 6.12.118-1
//	go run ./tools/fetchsource -series 7.3 -suites sid,experimental
//
// prints the directory of the unpacked tree (by default under ~/.cache/bpfmatrix/src). The tree
// holds kernel/, net/, fs/, drivers/hid/, include/, the top Makefile, and every other source
// file that mentions a kfunc set or its registration, found by reading the whole tarball; the
// file bpfmatrix-source.txt beside them names the package, its version and what was taken.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/bpfmatrix/bpfmatrix/internal/debpkg"
	"github.com/bpfmatrix/bpfmatrix/internal/decompress"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

func main() {
	series := flag.String("series", "6.12", "kernel series of the linux-source package")
	version := flag.String("version", "", "Debian version of the package (default: the newest in the suites)")
	suites := flag.String("suites", "trixie,trixie-security", "Debian suites to search, comma-separated (sid or experimental for the newest series)")
	out := flag.String("out", "", "directory to unpack into (default: <bpfmatrix cache>/src)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := run(ctx, *series, *version, *out, strings.Split(*suites, ","))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fetchsource:", err)
		os.Exit(1)
	}
	fmt.Println(dir)
}

func run(ctx context.Context, series, version, out string, suites []string) (string, error) {
	if out == "" {
		cache, err := vmimages.DefaultCacheDir()
		if err != nil {
			return "", err
		}
		out = filepath.Join(cache, "src")
	}
	srcs, err := vmimages.ReadAptSources("/etc/apt/sources.list", "/etc/apt/sources.list.d")
	if err != nil {
		return "", err
	}
	archive, err := vmimages.FindDebianArchive(srcs, os.Getenv)
	if err != nil {
		return "", err
	}
	a := privateApt{dir: filepath.Join(out, "apt"), archive: archive, suites: suites}
	if err := a.prepare(ctx); err != nil {
		return "", err
	}
	if msg, err := a.run(ctx, a.dir, "update"); err != nil {
		return "", fmt.Errorf("apt-get update: %w\n%s", err, msg)
	}
	pkg := "linux-source-" + series
	if version == "" {
		if version, err = a.newest(ctx, pkg); err != nil {
			return "", err
		}
	}
	tree := filepath.Join(out, pkg+"_"+version)
	if _, err := os.Stat(filepath.Join(tree, manifestName)); err == nil {
		return tree, nil
	}
	deb, err := a.download(ctx, pkg, version, out)
	if err != nil {
		return "", err
	}
	staging, err := os.MkdirTemp(out, ".staging-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(staging)
	taken, err := unpack(ctx, deb, pkg, staging)
	if err != nil {
		return "", err
	}
	manifest := fmt.Sprintf("package: %s\nversion: %s\ndeb: %s\nextra: %s\n", pkg, version, filepath.Base(deb), strings.Join(taken, " "))
	if err := files.WriteAtomic(filepath.Join(staging, manifestName), []byte(manifest), 0o644); err != nil {
		return "", err
	}
	if err := os.RemoveAll(tree); err != nil {
		return "", err
	}
	if err := os.Rename(staging, tree); err != nil {
		return "", err
	}
	return tree, nil
}

// manifestName is the file the generator reads the package version from; the tree itself does
// not say which Debian build it is.
const manifestName = "bpfmatrix-source.txt"

// privateApt is apt with its own state under dir. The source package is architecture "all",
// which Debian's binary-amd64 indexes carry, so only those are fetched.
type privateApt struct {
	dir     string
	archive vmimages.DebianArchive
	suites  []string
}

func (a privateApt) prepare(ctx context.Context) error {
	for _, d := range []string{filepath.Join(a.dir, "empty.d"), filepath.Join(a.dir, "lists", "partial"), filepath.Join(a.dir, "cache", "archives", "partial")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	var list strings.Builder
	line := func(uri, suite string) {
		fmt.Fprintf(&list, "deb [arch=amd64 target=Packages signed-by=%s] %s %s main\n", a.archive.Keyring, uri, suite)
	}
	for _, suite := range a.suites {
		switch {
		case !strings.HasSuffix(suite, "-security"):
			line(a.archive.Mirror, suite)
		case a.archive.SecurityMirror != "":
			// Debian publishes a stable kernel's newer builds in the security suite first.
			line(a.archive.SecurityMirror, suite)
		default:
			return fmt.Errorf("suite %s: no Debian security archive configured (set %s)", suite, vmimages.EnvDebianSecurityMirror)
		}
	}
	if err := files.WriteAtomic(filepath.Join(a.dir, "sources.list"), []byte(list.String()), 0o644); err != nil {
		return err
	}
	// Keep the machine's network settings (proxies, retries) and nothing else: apt.conf.d's
	// hooks act on the system and must not run for a private download.
	dump, err := exec.CommandContext(ctx, "apt-config", "dump").Output()
	if err != nil {
		return fmt.Errorf("apt-config dump: %w", err)
	}
	var conf bytes.Buffer
	fmt.Fprintf(&conf, "Dir::Etc::Parts %q;\nDir::Etc::Main \"/dev/null\";\n", filepath.Join(a.dir, "empty.d"))
	for _, l := range strings.Split(string(dump), "\n") {
		if strings.HasPrefix(l, "Acquire::") {
			conf.WriteString(l + "\n")
		}
	}
	return files.WriteAtomic(filepath.Join(a.dir, "apt.conf"), conf.Bytes(), 0o644)
}

func (a privateApt) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	opts := []string{
		"-o", "Dir::Etc::SourceList=" + filepath.Join(a.dir, "sources.list"),
		"-o", "Dir::Etc::SourceParts=" + filepath.Join(a.dir, "empty.d"),
		"-o", "Dir::State::Lists=" + filepath.Join(a.dir, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(a.dir, "cache"),
		"-o", "Dir::State::status=/dev/null",
		"-o", "APT::Sandbox::User=root",
	}
	cmd := exec.CommandContext(ctx, "apt-get", append(opts, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "APT_CONFIG="+filepath.Join(a.dir, "apt.conf"))
	return cmd.CombinedOutput()
}

// newest asks apt for the candidate versions of pkg and returns the highest.
func (a privateApt) newest(ctx context.Context, pkg string) (string, error) {
	out, err := a.run(ctx, a.dir, "-qq", "--print-uris", "download", pkg)
	if err != nil {
		return "", fmt.Errorf("apt-get download --print-uris %s: %w\n%s", pkg, err, out)
	}
	// The line is "'URI' linux-source-6.12_6.12.118-1_all.deb SIZE SHA256:..."; apt picks the
	// highest version of the sources as the candidate.
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], "_all.deb")
		if v, ok := strings.CutPrefix(name, pkg+"_"); ok {
			return strings.ReplaceAll(v, "%3a", ":"), nil
		}
	}
	return "", fmt.Errorf("%s: not in the indexes of %s", pkg, strings.Join(a.suites, ", "))
}

func (a privateApt) download(ctx context.Context, pkg, version, dir string) (string, error) {
	dst := filepath.Join(dir, pkg+"_"+version+"_all.deb")
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	tmp, err := os.MkdirTemp(dir, ".download-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if out, err := a.run(ctx, tmp, "download", pkg+"="+version); err != nil {
		return "", fmt.Errorf("apt-get download %s=%s: %w\n%s", pkg, version, err, out)
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".deb") {
			return dst, os.Rename(filepath.Join(tmp, e.Name()), dst)
		}
	}
	return "", fmt.Errorf("apt-get download %s=%s wrote no .deb", pkg, version)
}

// wantedDirs are unpacked whole: the BPF core, the networking and file-system kfuncs, HID-BPF,
// and the headers the registrations' macros come from.
var wantedDirs = []string{"kernel/", "net/", "fs/", "drivers/hid/", "include/"}

// kfuncMarkers are the words that make a source file outside wantedDirs worth keeping.
var kfuncMarkers = [][]byte{[]byte("register_btf_kfunc_id_set"), []byte("BTF_KFUNCS_START"), []byte("BTF_SET8_START")}

// unpack streams the package's source tarball, decompressing in process, and keeps the wanted
// files, so that the 1.5 GB tree is never written whole. It returns the directories outside
// wantedDirs whose files were kept for their kfunc markers.
func unpack(ctx context.Context, deb, pkg, staging string) ([]string, error) {
	f, err := os.Open(deb)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	tr, zr, err := debpkg.Data(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(deb), err)
	}
	defer zr.Close()
	member := "usr/src/" + pkg + ".tar.xz"
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: no %s", filepath.Base(deb), member)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(deb), err)
		}
		if strings.TrimPrefix(hdr.Name, "./") == member {
			break
		}
	}
	src, err := decompress.NewReader(decompress.XZ, bufio.NewReaderSize(tr, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", member, err)
	}
	defer src.Close()
	return keepFiles(ctx, tar.NewReader(src), staging)
}

func keepFiles(ctx context.Context, tr *tar.Reader, staging string) ([]string, error) {
	var extra []string
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return extra, nil
		}
		if err != nil {
			return nil, fmt.Errorf("source tarball: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		// Members are "linux-source-6.12/kernel/bpf/btf.c".
		_, rel, ok := strings.Cut(hdr.Name, "/")
		if !ok || !filepath.IsLocal(rel) {
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("source tarball: %s: %w", hdr.Name, err)
		}
		keep := rel == "Makefile" || slices.ContainsFunc(wantedDirs, func(d string) bool { return strings.HasPrefix(rel, d) })
		if !keep && (strings.HasSuffix(rel, ".c") || strings.HasSuffix(rel, ".h")) {
			for _, m := range kfuncMarkers {
				if bytes.Contains(body, m) {
					keep = true
					if d := path.Dir(rel); !slices.Contains(extra, d) {
						extra = append(extra, d)
					}
					break
				}
			}
		}
		if !keep {
			continue
		}
		dst := filepath.Join(staging, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, body, 0o644); err != nil {
			return nil, err
		}
	}
}
