package vmimages

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/decompress"
	"github.com/bpfmatrix/bpfmatrix/internal/decompress/compresstest"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// fakeARM64Image returns an uncompressed arm64 Image: the 64-byte header with its magic, code,
// the given blobs (BTF, strings) each after some padding, and the version banner of release
// after a decoy that is no banner (the /proc/version format has no builder in parentheses).
func fakeARM64Image(release, salt string, blobs ...[]byte) []byte {
	img := make([]byte, 0x40)
	copy(img, "MZ")
	copy(img[arm64MagicOffset:], arm64ImageMagic)
	img = append(img, make([]byte, 256)...)
	for _, b := range blobs {
		img = append(append(img, b...), make([]byte, 61)...)
	}
	img = append(img, "%s version %s\x00Linux version %s\x00"...)
	img = append(img, "Linux version "+release+" (debian-kernel@lists.example.org) (gcc 14) #1 SMP Debian\n\x00"...)
	return append(img, salt...)
}

// bigBTF encodes the BTF of a kernel-like vmlinux: the function named fn among enough types to
// be the largest blob of the image.
func bigBTF(t *testing.T, fn string) []byte {
	t.Helper()
	u64 := &btf.Int{Name: "u64", Size: 8}
	types := []btf.Type{&btf.Func{Name: fn, Type: &btf.FuncProto{Return: u64}, Linkage: btf.GlobalFunc}}
	for _, n := range []string{"bpf_prog", "bpf_map", "task_struct", "sk_buff", "xdp_md"} {
		types = append(types, &btf.Struct{Name: n, Size: 8, Members: []btf.Member{{Name: "x", Type: u64}}})
	}
	return testenv.MarshalBTF(t, types...)
}

// TestVmlinuzBTFARM64 reads the BTF of arm64 Images, uncompressed (as Debian ships them) and
// gzip-compressed: the kernel's BTF is the largest blob that parses, not a smaller one that comes
// first, nor a header whose lengths run past the image.
func TestVmlinuzBTFARM64(t *testing.T) {
	small := rawBTF(t, "iterator_prog")
	broken := append([]byte(nil), btfHeader...)
	broken = append(broken, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 8, 0, 0, 0) // types run past the end
	img := fakeARM64Image("6.12.118+deb13-cloud-arm64", "", small, broken, bigBTF(t, "bpf_probe_me"))
	tests := []struct {
		name string
		data []byte
	}{
		{"uncompressed", img},
		{"gzip", compresstest.Compress(t, decompress.Gzip, img)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := VmlinuzBTF(context.Background(), writeImage(t, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			var fn *btf.Func
			if err := spec.TypeByName("bpf_probe_me", &fn); err != nil {
				t.Errorf("the image's BTF lacks the kernel's function: %v", err)
			}
			if err := spec.TypeByName("iterator_prog", &fn); err == nil {
				t.Error("the smaller embedded BTF was taken for the kernel's")
			}
		})
	}
}

func TestVmlinuzBTFARM64Errors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"no BTF", fakeARM64Image("6.12.1", ""), "no BTF in the image"},
		{"only broken BTF", fakeARM64Image("6.12.1", "", append(append([]byte(nil), btfHeader...), 0, 0, 0, 0, 8, 0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 'j', 'u', 'n', 'k', 'j', 'u', 'n', 'k', 0, 'x', 0, 0)), "BTF at 0x"},
		{"gzip of something else", compresstest.Compress(t, decompress.Gzip, []byte("plain text")), "gzip-compressed file that is not an arm64 Image"},
		{"broken gzip", []byte{0x1f, 0x8b, 0, 0}, "gzip-compressed Image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refusesImage(t, tt.data, tt.want)
		})
	}
}

// TestVmlinuzRelease checks the release and architecture check of each image format.
func TestVmlinuzRelease(t *testing.T) {
	const rel = "7.3.4+deb13-cloud-arm64"
	tests := []struct {
		name    string
		arch    observation.Arch
		data    []byte
		release string
		ok      bool
		wantErr string
	}{
		{"arm64 Image", observation.ArchARM64, fakeARM64Image(rel, ""), rel, true, ""},
		{"gzip arm64 Image", observation.ArchARM64, compresstest.Compress(t, decompress.Gzip, fakeARM64Image(rel, "")), rel, true, ""},
		{"bzImage for amd64", observation.ArchAMD64, fakeBzImage("6.13.0", ""), "6.13.0", true, ""},
		{"arm64 Image for amd64", observation.ArchAMD64, fakeARM64Image(rel, ""), "", false, ""},
		{"bzImage for arm64", observation.ArchARM64, fakeBzImage("6.13.0", ""), "", false, "not an arm64 Image"},
		{"arm64 Image without banner", observation.ArchARM64, fakeARM64Image(rel, "")[:0x100], "", false, "without a \"Linux version\" banner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release, ok, err := vmlinuzRelease(writeImage(t, tt.data), tt.arch)
			if tt.wantErr != "" {
				testenv.WantErr(t, err, tt.wantErr)
				return
			}
			if err != nil || release != tt.release || ok != tt.ok {
				t.Errorf("vmlinuzRelease = %q %v %v, want %q %v", release, ok, err, tt.release, tt.ok)
			}
		})
	}
}

// TestPrivateAptPerArch checks the private apt state of each architecture: its own directory
// (amd64 keeps the one it had), sources lines restricted to the architecture, apt told the
// architecture whatever the host's, and package files named by it.
func TestPrivateAptPerArch(t *testing.T) {
	archive := DebianArchive{Mirror: "http://archive.invalid/debian", SecurityMirror: "http://security.invalid/debian-security", Keyring: "/k.gpg"}
	tests := []struct {
		arch observation.Arch
		dir  string
		deb  string
	}{
		{observation.ArchAMD64, "apt", "linux-image-x_1:6.1-1_amd64.deb"},
		{observation.ArchARM64, "apt-arm64", "linux-image-x_1:6.1-1_arm64.deb"},
	}
	for _, tt := range tests {
		t.Run(string(tt.arch), func(t *testing.T) {
			a := newApt("/cache", tt.arch, archive)
			if a.dir != filepath.Join("/cache", tt.dir) {
				t.Errorf("state directory %s, want /cache/%s", a.dir, tt.dir)
			}
			lines := strings.Split(strings.TrimSpace(a.sourcesList()), "\n")[1:]
			if len(lines) != len(debianSuites) {
				t.Errorf("%d sources lines, want one per suite (%d)", len(lines), len(debianSuites))
			}
			for _, l := range lines {
				if !strings.HasPrefix(l, "deb [arch="+string(tt.arch)+" target=Packages signed-by=/k.gpg] http://") {
					t.Errorf("sources line %q is not restricted to %s", l, tt.arch)
				}
			}
			opts := strings.Join(a.options(), " ")
			for _, want := range []string{"-o APT::Architecture=" + string(tt.arch), "-o APT::Architectures=" + string(tt.arch), "-o Dir::State::Lists=" + filepath.Join(a.dir, "lists"), "-o Dir::State::status=/dev/null"} {
				if !strings.Contains(opts, want) {
					t.Errorf("apt options lack %q: %s", want, opts)
				}
			}
			if got := debFileName("linux-image-x", "1:6.1-1", tt.arch); got != strings.ReplaceAll(tt.deb, ":", "%3a") {
				t.Errorf("debFileName = %s, want %s", got, tt.deb)
			}
		})
	}
	// A state made without an architecture (as older code did) is amd64's.
	if a := (&apt{dir: "/cache/apt", archive: archive}); !strings.Contains(a.sourcesList(), "[arch=amd64 ") || !strings.Contains(strings.Join(a.options(), " "), "APT::Architecture=amd64") {
		t.Error("an apt state without an architecture is not amd64's")
	}
}

// newARM64Fixture is newOfflineDebianFixture for an arm64 build: a kernels.yaml whose entry lists
// both architectures, a lock that pins its amd64 build (not cached) and its arm64 build, whose
// package (holding vmlinuz) is cached.
func newARM64Fixture(t *testing.T, vmlinuz []byte) *offlineDebianFixture {
	t.Helper()
	const release = "6.12.999+deb13-cloud-arm64"
	const pkg, ver = "linux-image-6.12.999+deb13-cloud-arm64", "6.12.999-1"
	files := map[string][]byte{
		"boot/vmlinuz-" + release:                     vmlinuz,
		"boot/config-" + release:                      []byte("CONFIG_VIRTIO=y\nCONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_CONSOLE=y\nCONFIG_BPF_LSM=y\n"),
		"lib/modules/" + release + "/modules.builtin": []byte("kernel/drivers/virtio/virtio.ko\n"),
		"lib/modules/" + release + "/modules.order":   []byte(""),
	}
	data, err := os.ReadFile(buildDeb(t, pkg, ver, files))
	if err != nil {
		t.Fatal(err)
	}
	fx := &offlineDebianFixture{dir: t.TempDir(), cache: t.TempDir(), vmlinuz: vmlinuz}
	fx.deb = filepath.Join(fx.cache, "debs", debFileName(pkg, ver, observation.ArchARM64))
	writeFile(t, fx.deb, string(data))
	writeFile(t, filepath.Join(fx.dir, "kernels.yaml"), "kernels:\n  - name: \"5.10\"\n    debian: {series: \"5.10\"}\n  - name: \"6.12\"\n    arch: [amd64, arm64]\n    debian: {series: \"6.12\"}\n")
	lock := &Lock{Path: filepath.Join(fx.dir, "kernels.lock"), Entries: []LockEntry{
		{Name: "6.12", Source: "debian series=6.12", Version: "6.12.999", Release: "6.12.999+deb13-cloud-amd64", SHA256: sumA,
			Package: "linux-image-6.12.999+deb13-cloud-amd64", DebianVersion: ver, Suite: "trixie-security", DebSHA256: sumB},
		{Name: "6.12", Arch: observation.ArchARM64, Source: "debian series=6.12", Version: "6.12.999", Release: release, SHA256: sha256Bytes(vmlinuz),
			Package: pkg, DebianVersion: ver, Suite: "trixie-security", DebSHA256: sha256Bytes(data)},
	}}
	if err := lock.Write(); err != nil {
		t.Fatal(err)
	}
	if fx.cfg, err = LoadConfig(filepath.Join(fx.dir, "kernels.yaml")); err != nil {
		t.Fatal(err)
	}
	return fx
}

// TestFetchARM64 fetches a pinned arm64 build from its cached package: the image says arm64, its
// manifest records it, and the lock (whose amd64 pin of the same name is untouched) is kept.
func TestFetchARM64(t *testing.T) {
	vmlinuz := fakeARM64Image("6.12.999+deb13-cloud-arm64", "fixture", bigBTF(t, "bpf_probe_me"))
	fx := newARM64Fixture(t, vmlinuz)
	lockBefore, _ := os.ReadFile(filepath.Join(fx.dir, "kernels.lock"))
	entries, err := fx.cfg.SelectArch(observation.ArchARM64, nil)
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	f := &Fetcher{CacheDir: fx.cache, Arch: observation.ArchARM64, Progress: &progress}
	imgs, err := f.Fetch(context.Background(), entries)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	img := imgs[0]
	if img.Name != "6.12" || img.Arch != observation.ArchARM64 || img.Release != "6.12.999+deb13-cloud-arm64" || img.ConfigPath == "" || len(img.Modules) != 0 {
		t.Errorf("image = %+v", img)
	}
	if got, _ := os.ReadFile(img.Path); !bytes.Equal(got, vmlinuz) {
		t.Error("vmlinuz differs from the packaged one")
	}
	var m Manifest
	data, _ := os.ReadFile(filepath.Join(filepath.Dir(img.Path), "manifest.json"))
	if err := json.Unmarshal(data, &m); err != nil || m.Arch != observation.ArchARM64 {
		t.Errorf("manifest arch = %q (%v), want arm64", m.Arch, err)
	}
	if spec, err := ImageBTF(context.Background(), fx.cache, img.SHA256); err != nil {
		t.Errorf("ImageBTF of the fetched arm64 image: %v", err)
	} else if _, err := spec.AnyTypeByName("bpf_probe_me"); err != nil {
		t.Errorf("ImageBTF: %v", err)
	}
	// The pin gains what the extraction learnt (its package has no kfunc modules), nothing else.
	lockAfter, _ := os.ReadFile(filepath.Join(fx.dir, "kernels.lock"))
	learnt := []byte("    kfunc_modules: \"none\"\n")
	if !bytes.Contains(lockAfter, learnt) || !bytes.Equal(bytes.Replace(lockAfter, learnt, nil, 1), lockBefore) {
		t.Errorf("fetching the pinned arm64 build changed kernels.lock beyond kfunc_modules:\n%s", lockAfter)
	}
}

// TestFaultFetchARM64WrongImage: an arm64 pin whose package holds an x86 bzImage is refused,
// not cached as an arm64 kernel.
func TestFaultFetchARM64WrongImage(t *testing.T) {
	fx := newARM64Fixture(t, fakeBzImage("6.12.999+deb13-cloud-arm64", "x86"))
	entries, err := fx.cfg.SelectArch(observation.ArchARM64, []string{"6.12"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Fetcher{CacheDir: fx.cache, Arch: observation.ArchARM64, Offline: true}).Fetch(context.Background(), entries)
	testenv.WantErr(t, err, "not an arm64 Image")
}

// TestFetchEntryWithoutArch: a Fetcher asked for arm64 refuses, before anything is fetched, an
// entry whose arch key does not list it, naming the kernels file's line.
func TestFetchEntryWithoutArch(t *testing.T) {
	fx := newARM64Fixture(t, fakeARM64Image("6.12.999+deb13-cloud-arm64", ""))
	tests := []struct {
		arch observation.Arch
		want string
	}{
		{observation.ArchARM64, "kernel 5.10 has no arm64 build in " + filepath.Join(fx.dir, "kernels.yaml") + ":2 (arch: [amd64])"},
		{"riscv64", `unknown architecture "riscv64"`},
	}
	for _, tt := range tests {
		imgs, err := (&Fetcher{CacheDir: fx.cache, Arch: tt.arch, Offline: true}).Fetch(context.Background(), fx.cfg.Entries)
		testenv.WantErr(t, err, tt.want)
		if len(imgs) != 0 {
			t.Errorf("Fetch(%s) returned %d images", tt.arch, len(imgs))
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(fx.cache, "images")); len(ents) != 0 {
		t.Errorf("a refused fetch left %d cache entries", len(ents))
	}
}

// TestImageBTFCachedARM64 reads the BTF of the arm64 builds the built-in lock pins (6.12 and
// 7.3, uncompressed arm64 Images) from the user's cache, gated as TestImageBTFCached is.
func TestImageBTFCachedARM64(t *testing.T) {
	for _, name := range []string{"6.12", "7.3"} {
		t.Run(name, func(t *testing.T) {
			cacheDir, st := cachedBuiltinArch(t, name, observation.ArchARM64)
			spec, err := ImageBTF(context.Background(), cacheDir, st.Locked.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			end := helperIDsEnd(t, spec)
			// An arm64 kernel's BTF describes arm64's registers, which x86's has no type for.
			var regs *btf.Struct
			if err := spec.TypeByName("user_pt_regs", &regs); err != nil {
				t.Errorf("no struct user_pt_regs (arm64's): %v", err)
			}
			t.Logf("kernel %s arm64: __BPF_FUNC_MAX_ID = %d", name, end)
		})
	}
}
