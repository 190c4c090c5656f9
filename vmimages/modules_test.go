package vmimages

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/kfunctags"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// cachedPackage returns the path of the first package matching pattern in the user's cache,
// which the test or benchmark only reads, or skips.
func cachedPackage(t testing.TB, pattern string) string {
	t.Helper()
	dir, err := DefaultCacheDir()
	testenv.Optional(t, err, "set HOME or XDG_CACHE_HOME")
	debs, _ := filepath.Glob(filepath.Join(dir, "debs", pattern))
	if len(debs) == 0 {
		testenv.Optional(t, errors.New("no "+pattern+" in "+filepath.Join(dir, "debs")), "bpfmatrix kernels fetch")
	}
	return debs[0]
}

// TestExtractKfuncModulesReal extracts real Debian packages and checks the kfunc modules chosen
// by their symbol tables against their BTF: each module extracted for its kfuncs must have a
// FUNC tagged bpf_kfunc in its split BTF (read against the image's vmlinux BTF), and the
// modules the images are known to ship with kfuncs (DESIGN.md) must be among them.
func TestExtractKfuncModulesReal(t *testing.T) {
	tests := []struct {
		pattern string
		want    []string // modules that must be extracted for their kfuncs
		tagged  bool     // the kernel's BTF tags kfuncs (6.12 on)
	}{
		{"linux-image-6.12.*.deb", []string{"nf_conntrack", "nf_nat", "tcp_bbr", "tcp_dctcp", "fou", "xfrm_interface", "nf_flow_table"}, true},
		{"linux-image-6.1.*.deb", []string{"nf_conntrack", "nf_nat", "tcp_bbr", "tcp_dctcp"}, false},
		{"linux-image-5.10.*.deb", nil, false},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.pattern, ".*.deb"), func(t *testing.T) {
			deb := cachedPackage(t, tt.pattern)
			staging := t.TempDir()
			start := time.Now()
			c, err := extractDeb(context.Background(), deb, staging, extractOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d kfunc modules and dependencies in %v: %v", filepath.Base(deb), len(c.KfuncModules), time.Since(start).Round(time.Millisecond), names(c.KfuncModules))
			got := names(c.KfuncModules)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("%s not extracted as a kfunc module", w)
				}
			}
			if tt.want == nil && len(got) > 0 {
				t.Errorf("kfunc modules on a kernel without module kfuncs: %v", got)
			}
			if tt.tagged {
				checkTagged(t, staging, c.KfuncModules, tt.want)
			}
			start = time.Now()
			pinned, err := extractDeb(context.Background(), deb, t.TempDir(), extractOptions{kfuncModules: c.KfuncRoots})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("again with kfunc_modules pinned: %v", time.Since(start).Round(time.Millisecond))
			if !slices.Equal(pinned.KfuncModules, c.KfuncModules) || !slices.Equal(pinned.Modules, c.Modules) {
				t.Errorf("pinned: %v and %v, inspecting every module: %v and %v", pinned.Modules, pinned.KfuncModules, c.Modules, c.KfuncModules)
			}
		})
	}
}

// checkTagged checks that each of want has kfuncs tagged in its BTF.
func checkTagged(t *testing.T, staging string, mods, want []string) {
	vm, err := VmlinuzBTF(context.Background(), filepath.Join(staging, "vmlinuz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range mods {
		if !slices.Contains(want, moduleName(rel)) {
			continue
		}
		spec, err := btf.LoadSplitSpecFromReader(bytes.NewReader(moduleBTF(t, filepath.Join(staging, rel))), vm)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		tagged, err := kfunctags.Tagged(spec)
		if err != nil || len(tagged) == 0 {
			t.Errorf("%s: extracted for its kfuncs, but its BTF tags none (%v)", rel, err)
		}
	}
}

// moduleBTF returns the .BTF section of a module file.
func moduleBTF(t *testing.T, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elfFile(data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Section(".BTF").Data()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func names(rels []string) []string {
	var out []string
	for _, r := range rels {
		out = append(out, moduleName(r))
	}
	return out
}

func elfFile(data []byte) (*elf.File, error) { return elf.NewFile(bytes.NewReader(data)) }

// TestInspectModule checks the kfunc test on module files built to each shape.
func TestInspectModule(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		deps   []string
		kfuncs bool
	}{
		{"plain module", fakeModule("a", "b,c-d"), []string{"b", "c_d"}, false},
		{"registers kfuncs", fakeKfuncModule("a", ""), nil, true},
		{"imports it without BTF", fakeELFModule("a", "", false, kfuncRegistration), nil, false},
		{"BTF, other import", fakeELFModule("a", "", true, "register_bpf_struct_ops"), nil, false},
	}
	for _, tt := range tests {
		deps, kfuncs, err := inspectModule(tt.data)
		if err != nil || !slices.Equal(deps, tt.deps) || kfuncs != tt.kfuncs {
			t.Errorf("%s: inspectModule = %q %v %v, want %q %v", tt.name, deps, kfuncs, err, tt.deps, tt.kfuncs)
		}
	}
}

// TestExtractKfuncModules extracts packages built to each case: kfunc modules come with their
// dependencies, after the virtio modules, and one whose dependency is missing is left out.
func TestExtractKfuncModules(t *testing.T) {
	const rel = "6.12.1+deb13-cloud-amd64"
	mod := func(p string) string { return "usr/lib/modules/" + rel + "/kernel/" + p }
	tests := []struct {
		name    string
		files   map[string][]byte
		builtin map[string]bool
		want    []string
		notes   string
	}{
		{
			name: "dependencies first, unrelated left",
			files: map[string][]byte{
				mod("net/netfilter/nf_conntrack.ko"): fakeKfuncModule("nf_conntrack", "nf_defrag_ipv4,libcrc32c"),
				mod("net/ipv4/nf_defrag_ipv4.ko"):    fakeModule("nf_defrag_ipv4", ""),
				mod("lib/libcrc32c.ko"):              fakeModule("libcrc32c", ""),
				mod("net/ipv4/tcp_bbr.ko"):           fakeKfuncModule("tcp_bbr", ""),
				mod("drivers/net/dummy.ko"):          fakeModule("dummy", ""),
			},
			want: []string{"libcrc32c", "nf_defrag_ipv4", "nf_conntrack", "tcp_bbr"},
		},
		{
			name:    "dependency built in",
			files:   map[string][]byte{mod("net/netfilter/nf_nat.ko"): fakeKfuncModule("nf_nat", "nf_conntrack")},
			builtin: map[string]bool{"nf_conntrack": true},
			want:    []string{"nf_nat"},
		},
		{
			name: "dependency missing",
			files: map[string][]byte{
				mod("net/netfilter/nf_nat.ko"): fakeKfuncModule("nf_nat", "nf_conntrack"),
				mod("net/ipv4/tcp_bbr.ko"):     fakeKfuncModule("tcp_bbr", ""),
			},
			want:  []string{"tcp_bbr"},
			notes: "kfunc module nf_nat left out: nf_nat depends on nf_conntrack, which the package neither ships nor builds in",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deb := buildDeb(t, "linux-modules-test", "1.0-1", tt.files)
			staging := t.TempDir()
			c, err := extractDeb(context.Background(), deb, staging, extractOptions{builtin: tt.builtin})
			if err != nil {
				t.Fatal(err)
			}
			if got := names(c.KfuncModules); !slices.Equal(got, tt.want) {
				t.Errorf("kfunc modules %v, want %v", got, tt.want)
			}
			if strings.Join(c.Notes, "\n") != tt.notes {
				t.Errorf("notes %q, want %q", c.Notes, tt.notes)
			}
			for _, m := range c.KfuncModules {
				if _, err := os.Stat(filepath.Join(staging, m)); err != nil {
					t.Error(err)
				}
			}
			if _, err := os.Stat(filepath.Join(staging, "modules", "kernel", "drivers", "net")); err == nil {
				t.Error("unrelated modules were extracted")
			}
			// Pinned as a first extraction found them, a second one inspects only those and
			// their dependencies and extracts the same.
			pinned, err := extractDeb(context.Background(), deb, t.TempDir(), extractOptions{builtin: tt.builtin, kfuncModules: c.KfuncRoots})
			if err != nil {
				t.Fatalf("with kfunc_modules %v pinned: %v", c.KfuncRoots, err)
			}
			if !slices.Equal(pinned.KfuncModules, c.KfuncModules) || !slices.Equal(pinned.KfuncRoots, c.KfuncRoots) || !slices.Equal(pinned.Notes, c.Notes) {
				t.Errorf("pinned: kfunc modules %v (roots %v, notes %q), inspecting every module: %v (%v, %q)",
					pinned.KfuncModules, pinned.KfuncRoots, pinned.Notes, c.KfuncModules, c.KfuncRoots, c.Notes)
			}
		})
	}
}

// TestFaultExtractPinnedKfuncModules extracts a package with kfunc modules pinned that do not
// match it: a pin naming a module the package lacks, or one that registers no kfuncs, is an
// error naming the module (the pin was not made from this package); only the pinned modules
// and their dependencies are inspected.
func TestFaultExtractPinnedKfuncModules(t *testing.T) {
	const rel = "6.12.1+deb13-cloud-amd64"
	mod := func(p string) string { return "usr/lib/modules/" + rel + "/kernel/" + p }
	deb := buildDeb(t, "linux-modules-test", "1.0-1", map[string][]byte{
		mod("net/netfilter/nf_conntrack.ko"): fakeKfuncModule("nf_conntrack", "libcrc32c"),
		mod("lib/libcrc32c.ko"):              fakeModule("libcrc32c", ""),
		mod("net/ipv4/tcp_bbr.ko"):           fakeKfuncModule("tcp_bbr", ""),
		mod("drivers/net/dummy.ko"):          fakeModule("dummy", ""),
	})
	tests := []struct {
		pinned []string
		want   string // the error; "" for none
	}{
		{[]string{"nf_conntrack"}, ""},
		{[]string{}, ""},
		{[]string{"nf_conntrack", "fou"}, "kernels.lock's kfunc_modules names fou, which the package does not hold"},
		{[]string{"dummy"}, "kernels.lock's kfunc_modules names dummy, which registers no kfuncs"},
	}
	for _, tt := range tests {
		c, err := extractDeb(context.Background(), deb, t.TempDir(), extractOptions{kfuncModules: tt.pinned})
		if tt.want != "" {
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("pinned %v: error %v, want %q", tt.pinned, err, tt.want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("pinned %v: %v", tt.pinned, err)
		}
		want := map[int][]string{1: {"libcrc32c", "nf_conntrack"}, 0: nil}[len(tt.pinned)]
		if got := names(c.KfuncModules); !slices.Equal(got, want) {
			t.Errorf("pinned %v: kfunc modules %v, want %v", tt.pinned, got, want)
		}
	}
}

// TestPinModulesPackage finds the modules package of a 6.19+ image package from the archive's
// index: the linux-image meta package of the same version depends on it exactly.
func TestPinModulesPackage(t *testing.T) {
	const sum = "1111111111111111111111111111111111111111111111111111111111111111"
	stanzas := func(modules bool) string {
		s := "Package: linux-binary-7.3.4+deb13-cloud-amd64\nVersion: 7.3.4-1\nDepends: linux-base-7.3.4+deb13-cloud-amd64 (= 7.3.4-1)\n\n" +
			"Package: linux-image-7.3.4+deb13-cloud-amd64\nVersion: 7.3.4-1\nDepends: dracut | initramfs-tools, linux-binary-7.3.4+deb13-cloud-amd64 (= 7.3.4-1), linux-modules-7.3.4+deb13-cloud-amd64 (= 7.3.4-1)\n\n"
		if modules {
			s += "Package: linux-modules-7.3.4+deb13-cloud-amd64\nVersion: 7.3.4-1\nSHA256: " + sum + "\n\n"
		}
		return s
	}
	tests := []struct {
		name, index, pkg string
		want, warn       string
	}{
		{"found", stanzas(true), "linux-binary-7.3.4+deb13-cloud-amd64", "linux-modules-7.3.4+deb13-cloud-amd64", ""},
		{"superseded", stanzas(false), "linux-binary-7.3.4+deb13-cloud-amd64", "", "is no longer in the archive"},
		{"image package holds its modules", stanzas(true), "linux-image-7.3.4+deb13-cloud-amd64", "", ""},
	}
	for _, tt := range tests {
		idx := &packageIndex{}
		if err := idx.add(strings.NewReader(tt.index), "sid", "Packages"); err != nil {
			t.Fatal(err)
		}
		var progress bytes.Buffer
		run := &fetchRun{f: &Fetcher{Progress: &progress}}
		rec, _ := idx.lookup(tt.pkg, "7.3.4-1")
		rec.Package = tt.pkg
		le := LockEntry{}
		pinModulesPackage(run, "7.3", idx, rec, &le)
		if le.ModulesPackage != tt.want || (tt.want != "") != (le.ModulesDebSHA256 == sum) {
			t.Errorf("%s: pinned %q %q, want %q", tt.name, le.ModulesPackage, le.ModulesDebSHA256, tt.want)
		}
		if !strings.Contains(progress.String(), tt.warn) || (tt.warn == "") != (progress.Len() == 0) {
			t.Errorf("%s: progress %q, want a warning containing %q", tt.name, progress.String(), tt.warn)
		}
	}
}

// FuzzInspectModule: a module file from a package is answered with its dependencies or an
// error, never a panic; an answer of kfuncs needs a .BTF section in a file that parses as ELF.
func FuzzInspectModule(f *testing.F) {
	for _, seed := range [][]byte{fakeModule("a", "b,c"), fakeKfuncModule("nf_nat", "nf_conntrack"), fakeELFModule("a", "", true, "x"), {0x7f, 'E', 'L', 'F'}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		deps, kfuncs, err := inspectModule(data)
		if err != nil {
			if deps != nil || kfuncs {
				t.Errorf("error %v with an answer %q %v", err, deps, kfuncs)
			}
			return
		}
		if kfuncs {
			f, err := elf.NewFile(bytes.NewReader(data))
			if err != nil || f.Section(".BTF") == nil {
				t.Errorf("kfuncs answered for a file without BTF (%v)", err)
			}
		}
		for _, d := range deps {
			if d == "" || strings.Contains(d, "-") {
				t.Errorf("dependency %q is no module name", d)
			}
		}
	})
}
