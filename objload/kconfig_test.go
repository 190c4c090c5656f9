package objload

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/internal/testobjects"
)

// TestKconfigReachesTheKernel runs a program that returns CONFIG_HZ after kconfigDefaults pointed
// it at a configuration file: the value the kernel sees is the file's, not the host's.
func TestKconfigReachesTheKernel(t *testing.T) {
	testenv.NeedRoot(t)
	for _, hz := range []string{"300", "1000"} {
		cfg := filepath.Join(t.TempDir(), "config")
		testenv.Must(0, os.WriteFile(cfg, []byte("CONFIG_HZ="+hz+"\n"), 0o644))(t)
		spec := testenv.Must(ebpf.LoadCollectionSpec(testobjects.Path(t, "kconfig")))(t)
		prog := spec.Programs["config_hz"].Copy()
		note, m, err := kconfigDefaults(prog, cfg)
		if err != nil || m == nil {
			t.Fatalf("kconfigDefaults: %q, %v, %v", note, m, err)
		}
		p, err := ebpf.NewProgram(prog)
		m.Close()
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		ret, err := p.Run(&ebpf.RunOptions{Data: make([]byte, 64)})
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]uint32{"300": 300, "1000": 1000}[hz]; ret != want {
			t.Errorf("CONFIG_HZ=%s in the file: the program returned %d (note %q)", hz, ret, note)
		}
	}
}

func TestVersionCode(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    uint32
	}{
		{"6.18.44-fc-v1272", 6<<16 | 18<<8 | 44},
		{"5.10.0-30-cloud-amd64", 5<<16 | 10<<8},
		{"4.19.300", 4<<16 | 19<<8 | 255},
		{"7.3", 7<<16 | 3<<8},
	} {
		if got := versionCode(tc.release); got != tc.want {
			t.Errorf("versionCode(%q) = %#x, want %#x", tc.release, got, tc.want)
		}
	}
}
