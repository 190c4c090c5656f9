package kernelbtf_test

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/debpkg"
	"github.com/bpfmatrix/bpfmatrix/internal/decompress"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/kernelbtf"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/section"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// uapiAttachTypes are values of enum bpf_attach_type as golang.org/x/sys/unix copies them from
// the kernel's uapi header: a source independent of the images' BTF.
var uapiAttachTypes = map[string]uint32{
	"BPF_CGROUP_INET_INGRESS": unix.BPF_CGROUP_INET_INGRESS, "BPF_CGROUP_SOCK_OPS": unix.BPF_CGROUP_SOCK_OPS,
	"BPF_CGROUP_SYSCTL": unix.BPF_CGROUP_SYSCTL, "BPF_TRACE_RAW_TP": unix.BPF_TRACE_RAW_TP,
	"BPF_TRACE_FENTRY": unix.BPF_TRACE_FENTRY, "BPF_MODIFY_RETURN": unix.BPF_MODIFY_RETURN,
	"BPF_LSM_MAC": unix.BPF_LSM_MAC, "BPF_TRACE_ITER": unix.BPF_TRACE_ITER,
	"BPF_CGROUP_INET_SOCK_RELEASE": unix.BPF_CGROUP_INET_SOCK_RELEASE, "BPF_XDP": unix.BPF_XDP,
	"BPF_SK_REUSEPORT_SELECT_OR_MIGRATE": unix.BPF_SK_REUSEPORT_SELECT_OR_MIGRATE,
	"BPF_TRACE_KPROBE_MULTI":             unix.BPF_TRACE_KPROBE_MULTI, "BPF_LSM_CGROUP": unix.BPF_LSM_CGROUP,
	"BPF_STRUCT_OPS": unix.BPF_STRUCT_OPS, "BPF_NETFILTER": unix.BPF_NETFILTER,
	"BPF_TCX_EGRESS": unix.BPF_TCX_EGRESS, "BPF_TRACE_UPROBE_MULTI": unix.BPF_TRACE_UPROBE_MULTI,
}

// imageFacts is what the test found in one kernel's image.
type imageFacts struct {
	kernel  string
	kinds   []kernelbtf.StructOpsKind
	attach  []kernelbtf.AttachType
	modules string
}

// TestImages reads the struct_ops kinds and attach types of every kernel in kernels.lock from
// its cached image and checks them against what holds for every kernel: tcp_congestion_ops is
// registered with its callbacks, the attach types are the enum 0..n-1 with the uapi's values,
// and a later kernel keeps every attach type of an earlier one. The table it logs is the
// per-kernel record docs/attach-points.md cites. 7.3's image is one CI fetches, so for it a
// missing image fails under CI; the others are read where they are cached.
func TestImages(t *testing.T) {
	lock, err := vmimages.LoadLock(filepath.Join("..", "kernels.lock"))
	if err != nil {
		t.Fatal(err)
	}
	var facts []imageFacts
	last := map[observation.Arch]int{} // 1 + the index in facts of each architecture's latest
	for _, e := range lock.Entries {
		t.Run(observation.KernelLabel(e.Name, e.Arch), func(t *testing.T) {
			spec := imageBTF(t, observation.KernelLabel(e.Name, e.Arch), e.SHA256)
			f := imageFacts{kernel: observation.KernelLabel(e.Name, e.Arch)}
			if f.kinds, err = kernelbtf.StructOpsKinds(spec, ""); err != nil {
				t.Fatal(err)
			}
			if f.attach, err = kernelbtf.AttachTypes(spec); err != nil {
				t.Fatal(err)
			}
			checkKinds(t, f.kinds)
			checkAttachTypes(t, f.attach)
			// Each architecture's pins come in release order: a later release keeps what an
			// earlier one of the same architecture has.
			if i := last[e.Arch]; i > 0 {
				checkKept(t, facts[i-1], f)
			}
			f.modules = moduleKinds(t, spec, e)
			facts = append(facts, f)
			last[e.Arch] = len(facts)
		})
	}
	if i := last[""]; i > 0 {
		checkSectionAttachTypes(t, facts[i-1]) // the newest amd64 kernel
	}
	for _, f := range facts {
		t.Logf("%-5s attach types %2d; struct_ops kinds: %s%s", f.kernel, len(f.attach), kindSummary(f.kinds), f.modules)
	}
}

// imageBTF reads the vmlinux BTF of a cached image, or skips (fails under CI for 7.3).
func imageBTF(t *testing.T, kernel, sum string) *btf.Spec {
	t.Helper()
	spec, err := vmimages.ImageBTF(context.Background(), "", sum)
	switch {
	case errors.Is(err, fs.ErrNotExist) && kernel == "7.3":
		testenv.Need(t, err, "bpfmatrix kernels fetch 7.3")
	case errors.Is(err, fs.ErrNotExist):
		t.Skipf("image of %s not cached: %v", kernel, err)
	case err != nil:
		t.Fatal(err)
	}
	return spec
}

func checkKinds(t *testing.T, kinds []kernelbtf.StructOpsKind) {
	t.Helper()
	i := slices.IndexFunc(kinds, func(k kernelbtf.StructOpsKind) bool { return k.Name == "tcp_congestion_ops" })
	if i < 0 {
		t.Fatalf("no tcp_congestion_ops among %s", kindSummary(kinds))
	}
	// void (*cong_avoid)(struct sock *sk, u32 ack, u32 acked); void (*release)(struct sock *sk)
	for name, arity := range map[string]int{"cong_avoid": 3, "release": 1} {
		if m, ok := kinds[i].Member(name); !ok || m.Arity != arity {
			t.Errorf("tcp_congestion_ops.%s: %+v, %v; want arity %d", name, m, ok, arity)
		}
	}
	for _, k := range kinds {
		if len(k.Members) == 0 || k.Module != "" {
			t.Errorf("kind %s: %d members, module %q", k.Name, len(k.Members), k.Module)
		}
		for j, m := range k.Members {
			if j > 0 && m.Index <= k.Members[j-1].Index {
				t.Errorf("kind %s: member %s out of order", k.Name, m.Name)
			}
			if _, err := section.Parse("struct_ops/" + k.Name + "." + m.Name); err != nil {
				t.Errorf("the kernel's own member does not read as a section: %v", err)
			}
		}
	}
}

func checkAttachTypes(t *testing.T, ats []kernelbtf.AttachType) {
	t.Helper()
	for i, a := range ats {
		if a.Value != uint32(i) {
			t.Errorf("attach type %s = %d at position %d: the enum has a hole", a.Name, a.Value, i)
		}
		if v, ok := uapiAttachTypes[a.Name]; ok && v != a.Value {
			t.Errorf("attach type %s = %d, the uapi says %d", a.Name, a.Value, v)
		}
	}
}

// checkKept: the enum is uapi, so a later kernel keeps every name and value.
func checkKept(t *testing.T, prev, cur imageFacts) {
	t.Helper()
	for _, a := range prev.attach {
		if !slices.Contains(cur.attach, a) {
			t.Errorf("%s has attach type %s = %d, the later %s has not", prev.kernel, a.Name, a.Value, cur.kernel)
		}
	}
}

// checkSectionAttachTypes holds the section table to the newest kernel's enum: every attach
// type a libbpf section names must be spelt as the kernel spells it.
func checkSectionAttachTypes(t *testing.T, newest imageFacts) {
	for _, s := range section.Known() {
		if s.AttachType != "" && !slices.ContainsFunc(newest.attach, func(a kernelbtf.AttachType) bool { return a.Name == s.AttachType }) {
			t.Errorf("section %s: attach type %s is not in %s's enum", s.Name, s.AttachType, newest.kernel)
		}
	}
}

func kindSummary(kinds []kernelbtf.StructOpsKind) string {
	var parts []string
	for _, k := range kinds {
		p := fmt.Sprintf("%s(%d)", k.Name, len(k.Members))
		if k.Module != "" {
			p = k.Module + ":" + p
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

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
	all, err := kernelbtf.AllStructOpsKinds(vmlinux, nil, specs)
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
	testenv.WriteFile(t, p, data)
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
