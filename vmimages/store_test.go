package vmimages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// TestStoreReplacesEntryMissingModulesPackage: an entry of the current layout extracted before
// its pin named a modules package (a 6.19+ image cached by an earlier bpfmatrix) is replaced when
// the image is extracted again with it, and a second store of the same contents keeps the entry
// in place. Before, the older entry was kept as "another process's" and every fetch extracted the
// image again for nothing.
func TestStoreReplacesEntryMissingModulesPackage(t *testing.T) {
	c := imageCache{dir: t.TempDir()}
	vmlinuz := []byte("not really a kernel, but hashed like one")
	h := sha256.Sum256(vmlinuz)
	sum := hex.EncodeToString(h[:])
	store := func(modulesPackage string) *Manifest {
		st := testenv.Must(c.newStaging())(t)
		writeFile(t, filepath.Join(st.Path, "vmlinuz"), string(vmlinuz))
		m := &Manifest{SHA256: sum, Package: "linux-binary-7.3.4+deb13-cloud-amd64", Layout: debianLayout, ModulesPackage: modulesPackage}
		if err := c.store(context.Background(), st, m); err != nil {
			t.Fatal(err)
		}
		st.Remove()
		got, err := verifyEntry(context.Background(), c.imageDir(sum), sum)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	tests := []struct{ name, modulesPackage, want string }{
		{"first extraction, no modules package pinned", "", ""},
		{"the pin names the modules package", "linux-modules-7.3.4+deb13-cloud-amd64", "linux-modules-7.3.4+deb13-cloud-amd64"},
		{"the same contents once more", "linux-modules-7.3.4+deb13-cloud-amd64", "linux-modules-7.3.4+deb13-cloud-amd64"},
	}
	for _, tt := range tests {
		if got := store(tt.modulesPackage); got.ModulesPackage != tt.want {
			t.Errorf("%s: the entry's modules package is %q, want %q", tt.name, got.ModulesPackage, tt.want)
		}
	}
	left, _ := filepath.Glob(filepath.Join(c.dir, "images", "*"))
	if len(left) != 1 {
		t.Errorf("images/ holds %v, want the one entry", left)
	}
	if _, err := os.Stat(filepath.Join(c.imageDir(sum), "vmlinuz")); err != nil {
		t.Error(err)
	}
}
