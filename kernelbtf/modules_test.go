package kernelbtf_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

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
	for _, tool := range []string{"dpkg-deb", "tar", "xz"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "; modules: no " + tool
		}
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

// extractModules unpacks sampleModules from the package into a temporary directory.
func extractModules(t *testing.T, deb string) []string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"-x", "-C", dir, "--wildcards"}
	for _, m := range sampleModules {
		args = append(args, "*/kernel/"+m+"*")
	}
	untar := exec.Command("tar", args...)
	unpack := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	pipe, err := unpack.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	untar.Stdin = pipe
	if err := unpack.Start(); err != nil {
		t.Fatal(err)
	}
	_ = untar.Run() // a module the package lacks is no error: the others are read
	_ = unpack.Wait()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		switch {
		case err != nil || d.IsDir():
		case strings.HasSuffix(p, ".ko.xz"):
			if exec.Command("xz", "-d", p).Run() == nil {
				out = append(out, strings.TrimSuffix(p, ".xz"))
			}
		case strings.HasSuffix(p, ".ko"):
			out = append(out, p)
		}
		return nil
	})
	return out
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
