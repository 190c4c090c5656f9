package kernelbtf_test

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/debpkg"
	"github.com/bpfmatrix/bpfmatrix/internal/decompress"
	"github.com/bpfmatrix/bpfmatrix/kernelbtf"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// sampleModules are modules the Debian cloud images ship with BTF that the issue names: two
// congestion controls (instances of a vmlinux kind, so no kind of their own) and hid (whose
// hid_bpf_ops exists only with CONFIG_HID_BPF).
var sampleModules = []string{"net/ipv4/tcp_bbr.ko", "net/ipv4/tcp_dctcp.ko", "drivers/hid/hid.ko"}

// moduleKinds reads sampleModules' split BTF from the kernel's package, when the package is in
// the download cache (read, never written), and returns what it found for the log. Reading a
// module's split BTF must find the module's own kinds only, never vmlinux's again.
func moduleKinds(t *testing.T, vmlinux *btf.Spec, e vmimages.LockEntry) string {
	t.Helper()
	cache, err := vmimages.DefaultCacheDir()
	if err != nil {
		return ""
	}
	deb := filepath.Join(cache, "debs", e.Package+"_"+e.DebianVersion+"_amd64.deb")
	if _, err := os.Stat(deb); err != nil {
		return "; modules: package not cached"
	}
	specs := map[string]*btf.Spec{}
	var noBTF []string
	for _, ko := range extractModules(t, deb) {
		spec, err := splitBTF(ko, vmlinux)
		switch {
		case errors.Is(err, errNoBTF):
			noBTF = append(noBTF, filepath.Base(ko)) // 5.10 builds modules without BTF
		case err != nil:
			t.Errorf("%s: %v", ko, err)
		default:
			specs[strings.TrimSuffix(filepath.Base(ko), ".ko")] = spec
		}
	}
	if len(specs)+len(noBTF) == 0 {
		return "; modules: none of the sample in the package"
	}
	all, err := kernelbtf.AllStructOpsKinds(vmlinux, specs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range specs {
		names = append(names, n)
	}
	slices.Sort(names)
	var mod []kernelbtf.StructOpsKind
	for _, k := range all {
		if k.Module != "" {
			mod = append(mod, k)
		}
	}
	out := "; module kinds in " + strings.Join(names, ",") + ": [" + kindSummary(mod) + "]"
	if len(noBTF) > 0 {
		out += "; without BTF: " + strings.Join(noBTF, ",")
	}
	return out
}

// extractModules writes the sampleModules the package holds, decompressed, into a temporary
// directory and returns their paths. It reads the package in process, as bpfmatrix unpacks
// kernels, so the test needs neither dpkg-deb nor tar nor xz.
func extractModules(t *testing.T, deb string) []string {
	t.Helper()
	f, err := os.Open(deb)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	tr, zr, err := debpkg.Data(f, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", deb, err)
	}
	defer zr.Close()
	dir := t.TempDir()
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out // a module the package lacks is no error: the others are read
		}
		if err != nil {
			t.Fatalf("%s: %v", deb, err)
		}
		if format, ok := sampleModule(h.Name); ok && h.Typeflag == tar.TypeReg {
			out = append(out, writeModule(t, dir, h.Name, format, tr))
		}
	}
}

// sampleModule reports whether name, a path in a kernel package, is one of sampleModules, and
// how it is compressed ("" for not at all).
func sampleModule(name string) (decompress.Format, bool) {
	for _, m := range sampleModules {
		_, rest, ok := strings.Cut(name, "/kernel/"+m)
		if ok && decompress.ForName(rest).Ext() == rest {
			return decompress.ForName(rest), true
		}
	}
	return "", false
}

// writeModule writes the module r holds, in format, decompressed into dir under its base name
// with the .ko ending, and returns the path.
func writeModule(t *testing.T, dir, name string, format decompress.Format, r io.Reader) string {
	t.Helper()
	if format != "" {
		zr, err := decompress.NewReader(format, r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer zr.Close()
		r = zr
	}
	p := filepath.Join(dir, strings.TrimSuffix(filepath.Base(name), format.Ext()))
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var errNoBTF = errors.New("no .BTF section")

// splitBTF reads a module's .BTF section as split BTF on top of vmlinux.
func splitBTF(ko string, vmlinux *btf.Spec) (*btf.Spec, error) {
	f, err := elf.Open(ko)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".BTF")
	if sec == nil {
		return nil, errNoBTF
	}
	raw, err := sec.Data()
	if err != nil {
		return nil, err
	}
	return btf.LoadSplitSpecFromReader(bytes.NewReader(raw), vmlinux)
}
