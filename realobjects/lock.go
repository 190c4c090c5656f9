package realobjects

import (
	_ "embed"
	"fmt"
	"path"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/strictyaml"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// pinnedLock is realobjects.lock: the Debian packages whose objects tests and users answer for,
// pinned like the kernels in kernels.lock.
//
//go:embed realobjects.lock
var pinnedLock []byte

// PinnedLockFile names the lock built into the package, in messages.
const PinnedLockFile = "realobjects/realobjects.lock"

// Lock is a loaded object lock: Debian packages by exact version and hash, and the BPF objects
// each holds, by hash.
type Lock struct {
	Path     string
	Packages []PackagePin
}

// PackagePin pins one package and the objects taken from it.
type PackagePin struct {
	Package   string
	Version   string // Debian version, e.g. 1.3.1-1
	Suite     string // where it was found, e.g. bookworm
	DebSHA256 string // of the .deb, from the signed index
	Objects   []ObjectPin
	Line      int // in the lock file, for messages
}

// ObjectPin is one BPF object of a pinned package.
type ObjectPin struct {
	File   string // path in the package, e.g. usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o
	Offset int64  // where an embedded object starts in File; -1 for a file that is the object
	SHA256 string
	Line   int
}

// CacheName is the object's file name in its package's cache directory: the file's base name,
// with "@<offset>.o" for an object embedded in a binary.
func (o ObjectPin) CacheName() string {
	if o.Offset >= 0 {
		return fmt.Sprintf("%s@%d.o", path.Base(o.File), o.Offset)
	}
	return path.Base(o.File)
}

// The keys of the lock file.
var (
	topKey      = "packages"
	packageKeys = []string{"package", "version", "suite", "deb_sha256", "objects"}
	objectKeys  = []string{"file", "offset", "sha256"}
)

// Pinned returns the lock built into the package.
func Pinned() (*Lock, error) { return ParseLock(pinnedLock, PinnedLockFile) }

// LoadLock reads an object lock file.
func LoadLock(file string) (*Lock, error) {
	data, err := files.ReadRegular(file, files.Lock)
	if err != nil {
		return nil, fmt.Errorf("object lock: %w", err)
	}
	return ParseLock(data, file)
}

// ParseLock checks an object lock's content; file names it in messages. Unknown or repeated
// keys, missing or malformed values, and a package or object pinned twice are errors with the
// line, because a damaged lock would silently change which objects are answered for.
func ParseLock(data []byte, file string) (*Lock, error) {
	l := &Lock{Path: file}
	items, err := strictyaml.Records(data, file, topKey)
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for _, item := range items {
		p, err := parsePackage(item, file)
		if err != nil {
			return nil, err
		}
		key := p.Package + "=" + p.Version
		if first, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s:%d: package %s is pinned twice (first at line %d)", file, p.Line, key, first)
		}
		seen[key] = p.Line
		l.Packages = append(l.Packages, p)
	}
	return l, nil
}

// parsePackage reads and checks one package entry.
func parsePackage(n *yaml.Node, file string) (PackagePin, error) {
	p := PackagePin{Line: n.Line}
	f, err := strictyaml.Fields(n, file, packageKeys...)
	if err != nil {
		return p, err
	}
	for _, k := range packageKeys[:4] {
		if _, ok := f[k]; !ok {
			return p, fmt.Errorf("%s:%d: package entry without %s", file, n.Line, k)
		}
	}
	vals := map[string]*string{"package": &p.Package, "version": &p.Version, "suite": &p.Suite, "deb_sha256": &p.DebSHA256}
	for k, dst := range vals {
		if *dst, err = scalar(f[k], file, k); err != nil {
			return p, err
		}
	}
	if _, err := vmimages.ParseDebianVersion(p.Version); err != nil {
		return p, fmt.Errorf("%s:%d: package %s: %w", file, f["version"].Line, p.Package, err)
	}
	if !files.IsSHA256(p.DebSHA256) {
		return p, fmt.Errorf("%s:%d: package %s: deb_sha256 %q is not a sha256 (64 lower-case hex digits)", file, f["deb_sha256"].Line, p.Package, p.DebSHA256)
	}
	objs, ok := f["objects"]
	if !ok || objs.Kind != yaml.SequenceNode || len(objs.Content) == 0 {
		return p, fmt.Errorf("%s:%d: package %s: objects must be a non-empty list", file, n.Line, p.Package)
	}
	names := map[string]int{}
	for _, item := range objs.Content {
		o, err := parseObject(item, file)
		if err != nil {
			return p, err
		}
		if first, dup := names[o.CacheName()]; dup {
			return p, fmt.Errorf("%s:%d: package %s: object %s is pinned twice (first at line %d)", file, o.Line, p.Package, o.CacheName(), first)
		}
		names[o.CacheName()] = o.Line
		p.Objects = append(p.Objects, o)
	}
	return p, nil
}

// parseObject reads and checks one object entry.
func parseObject(n *yaml.Node, file string) (ObjectPin, error) {
	o := ObjectPin{Offset: -1, Line: n.Line}
	f, err := strictyaml.Fields(n, file, objectKeys...)
	if err != nil {
		return o, err
	}
	for _, k := range []string{"file", "sha256"} {
		if _, ok := f[k]; !ok {
			return o, fmt.Errorf("%s:%d: object entry without %s", file, n.Line, k)
		}
	}
	if o.File, err = scalar(f["file"], file, "file"); err != nil {
		return o, err
	}
	if path.IsAbs(o.File) || path.Clean(o.File) != o.File || strings.HasPrefix(o.File, "../") {
		return o, fmt.Errorf("%s:%d: file %q is not a clean path inside the package", file, f["file"].Line, o.File)
	}
	if o.SHA256, err = scalar(f["sha256"], file, "sha256"); err != nil {
		return o, err
	}
	if !files.IsSHA256(o.SHA256) {
		return o, fmt.Errorf("%s:%d: object %s: sha256 %q is not a sha256 (64 lower-case hex digits)", file, f["sha256"].Line, o.File, o.SHA256)
	}
	if on, ok := f["offset"]; ok {
		v, err := scalar(on, file, "offset")
		if err != nil {
			return o, err
		}
		if o.Offset, err = strconv.ParseInt(v, 10, 64); err != nil || o.Offset < 0 {
			return o, fmt.Errorf("%s:%d: object %s: offset %q is not a byte offset", file, on.Line, o.File, v)
		}
	}
	return o, nil
}

// scalar returns a non-empty scalar value.
func scalar(n *yaml.Node, file, key string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || strings.TrimSpace(n.Value) == "" {
		return "", fmt.Errorf("%s:%d: %s: expected a value", file, n.Line, key)
	}
	return n.Value, nil
}

// Marshal renders the lock with every value quoted, one key per line, so that a moved pin shows
// as a small diff.
func (l *Lock) Marshal() []byte {
	var b strings.Builder
	b.WriteString("# realobjects.lock: Debian packages that ship BPF objects, and those objects, pinned by\n")
	b.WriteString("# sha256 (written by `go run ./tools/objcorpus -pin`). Do not edit by hand.\n")
	b.WriteString("packages:\n")
	for _, p := range l.Packages {
		fmt.Fprintf(&b, "  - package: %q\n    version: %q\n    suite: %q\n    deb_sha256: %q\n    objects:\n", p.Package, p.Version, p.Suite, p.DebSHA256)
		for _, o := range p.Objects {
			fmt.Fprintf(&b, "      - file: %q\n", o.File)
			if o.Offset >= 0 {
				fmt.Fprintf(&b, "        offset: %d\n", o.Offset)
			}
			fmt.Fprintf(&b, "        sha256: %q\n", o.SHA256)
		}
	}
	return []byte(b.String())
}
