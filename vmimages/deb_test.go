package vmimages

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

func TestExtractDeb(t *testing.T) {
	const rel510 = "5.10.0-99-cloud-amd64"
	const rel73 = "7.3.9+deb13-cloud-amd64"
	// The modules a 5.10 layout's guest loads, in load order.
	virtio510 := []string{
		"modules/kernel/drivers/virtio/virtio.ko",
		"modules/kernel/drivers/virtio/virtio_ring.ko",
		"modules/kernel/drivers/char/virtio_console.ko",
		"modules/kernel/drivers/virtio/virtio_pci_helper.ko",
		"modules/kernel/drivers/virtio/virtio_pci.ko",
	}
	tests := []struct {
		name        string
		files       map[string][]byte
		release     string
		wantConfig  bool
		wantModules []string
		wantErr     string
	}{
		{
			name:       "linux-image layout (5.10 to 6.18)",
			files:      layoutImage(t, rel510, "a", false),
			release:    rel510,
			wantConfig: true,
			// virtio_pci_helper is not in the wanted list: it is pulled in as virtio_pci's dependency.
			wantModules: virtio510,
		},
		{
			name:        "compressed module",
			files:       layoutImage(t, rel510, "b", true),
			release:     rel510,
			wantConfig:  true,
			wantModules: virtio510,
		},
		{
			// The dependency's file comes before the module naming it: a second walk takes it.
			name: "dependency walked past",
			files: func() map[string][]byte {
				f := layoutImage(t, rel510, "f", false)
				f["lib/modules/"+rel510+"/kernel/drivers/char/virtio_console.ko"] = fakeModule("virtio_console", "virtio,virtio_ring,aa_early")
				f["lib/modules/"+rel510+"/kernel/drivers/block/aa_early.ko"] = fakeModule("aa_early", "")
				return f
			}(),
			release:     rel510,
			wantConfig:  true,
			wantModules: append([]string{"modules/kernel/drivers/block/aa_early.ko"}, virtio510...),
		},
		{
			name:    "linux-binary layout (6.19 on)",
			files:   map[string][]byte{"usr/lib/modules/" + rel73 + "/vmlinuz": fakeBzImage(rel73, "c")},
			release: rel73,
		},
		{
			name:       "linux-base (config of 6.19 on)",
			files:      map[string][]byte{"usr/lib/modules/" + rel73 + "/config": []byte("CONFIG_BPF_LSM=y\n"), "usr/lib/modules/" + rel73 + "/System.map": []byte("x")},
			release:    rel73,
			wantConfig: true,
		},
		{
			name: "missing dependency",
			files: map[string][]byte{
				"boot/vmlinuz-" + rel510:                                     fakeBzImage(rel510, "d"),
				"lib/modules/" + rel510 + "/kernel/drivers/virtio/virtio.ko": fakeModule("virtio", "not_shipped"),
			},
			wantErr: "module virtio depends on not_shipped, which the package neither ships nor builds in",
		},
		{
			name:    "two releases",
			files:   map[string][]byte{"boot/vmlinuz-" + rel510: fakeBzImage(rel510, "e"), "boot/config-6.1.0-1-cloud-amd64": []byte("x")},
			wantErr: "two kernel releases",
		},
		{
			name:    "meta package",
			files:   map[string][]byte{"usr/share/doc/linux-image-x/copyright": []byte("x")},
			wantErr: "no vmlinuz, config or modules",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deb := buildDeb(t, "linux-image-test", "1.0-1", tt.files)
			staging := t.TempDir()
			c, err := extractDeb(context.Background(), deb, staging, extractOptions{})
			if testenv.WantErr(t, err, tt.wantErr) {
				return
			}
			if c.Release != tt.release || c.Config != tt.wantConfig {
				t.Errorf("release %q config %v, want %q %v", c.Release, c.Config, tt.release, tt.wantConfig)
			}
			if strings.Join(c.Modules, " ") != strings.Join(tt.wantModules, " ") {
				t.Errorf("modules (load order):\n got %v\nwant %v", c.Modules, tt.wantModules)
			}
			for _, m := range c.Modules {
				data, err := os.ReadFile(filepath.Join(staging, m))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(data, []byte("\x7fELF")) {
					t.Errorf("%s is not a decompressed ELF module", m)
				}
			}
			if c.Vmlinuz {
				got, _ := os.ReadFile(filepath.Join(staging, "vmlinuz"))
				for p, want := range tt.files {
					if strings.Contains(p, "vmlinuz") && !bytes.Equal(got, want) {
						t.Error("vmlinuz differs from the packaged file")
					}
				}
				if r, ok, err := bzImageRelease(filepath.Join(staging, "vmlinuz")); err != nil || !ok || r != tt.release {
					t.Errorf("bzImageRelease = %q %v %v, want %q", r, ok, err, tt.release)
				}
			}
			if _, err := os.Stat(filepath.Join(staging, "modules", "kernel", "drivers", "net")); err == nil {
				t.Error("unrelated modules were extracted")
			}
		})
	}
}

func TestBzImageRelease(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		data    []byte
		release string
		ok      bool
	}{
		{"bzImage", fakeBzImage("6.13.0-rc1+", ""), "6.13.0-rc1+", true},
		{"ELF vmlinux", fakeModule("x", ""), "", false},
		{"short file", []byte("MZ"), "", false},
	}
	for _, tt := range tests {
		p := testenv.WriteFile(t, filepath.Join(dir, tt.name), tt.data)
		r, ok, err := bzImageRelease(p)
		if err != nil || r != tt.release || ok != tt.ok {
			t.Errorf("%s: bzImageRelease = %q %v %v, want %q %v", tt.name, r, ok, err, tt.release, tt.ok)
		}
	}
}

// TestExtractionComplete checks when extractDeb may stop reading a package: only once nothing
// later in it could change what it returns.
func TestExtractionComplete(t *testing.T) {
	base := func() *extraction {
		return &extraction{
			c:           &debContents{Vmlinuz: true, Config: true},
			mods:        moduleSet{byName: map[string]*moduleFile{"virtio": {name: "virtio"}}},
			builtinRead: true, orderRead: true,
			builtin: map[string]bool{}, order: map[string]bool{"virtio": true, "nf_nat": true},
		}
	}
	tests := []struct {
		name string
		edit func(x *extraction)
		want bool
	}{
		{"a listed module not read yet", func(*extraction) {}, false},
		{"every listed module read", func(x *extraction) { x.mods.byName["nf_nat"] = &moduleFile{} }, true},
		{"the rest built in", func(x *extraction) { x.builtin["nf_nat"] = true }, true},
		{"modules.order not read", func(x *extraction) { x.mods.byName["nf_nat"], x.orderRead = &moduleFile{}, false }, false},
		{"modules.builtin not read", func(x *extraction) { x.mods.byName["nf_nat"], x.builtinRead = &moduleFile{}, false }, false},
		{"no config yet", func(x *extraction) { x.mods.byName["nf_nat"], x.c.Config = &moduleFile{}, false }, false},
		{"no vmlinuz yet", func(x *extraction) { x.mods.byName["nf_nat"], x.c.Vmlinuz = &moduleFile{}, false }, false},
	}
	for _, tt := range tests {
		x := base()
		tt.edit(x)
		if got := x.complete(); got != tt.want {
			t.Errorf("%s: complete() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
