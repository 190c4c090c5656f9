package vmimages

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// FuzzParseConfig: the kernels.yaml loader answers any input with a config or an error naming
// the file, never a panic; a config it accepts has entries with names and sources.
func FuzzParseConfig(f *testing.F) {
	fuzzKernelsFile(f, "kernels.yaml", ParseConfig, func(t *testing.T, cfg *Config) {
		for _, e := range cfg.Entries {
			if e.Name == "" || e.Source == nil || e.Source.Spec() == "" {
				t.Errorf("accepted an entry without name or source: %+v", e)
			}
		}
	},
		"kernels:\n  - name: \"5.10\"\n    debian: {series: \"5.10\"}\n",
		"kernels:\n  - name: mine\n    path: {image: bzImage, config: .config}\n    append: [quiet]\n",
		"kernels: []\n", "---\n", "kernels:\n  - &a {name: x, path: y}\n  - *a\n", "kernels: !!binary AAAA\n",
		"kernels:\n  - name: x\n    arch: [amd64, arm64]\n    debian: {series: \"6.12\"}\n  - name: y\n    arch: arm64\n    path: Image\n",
	)
}

// FuzzParseLock: the kernels.lock reader answers any input with a lock or an error naming the
// file, never a panic; a lock it accepts writes back to the same lock.
func FuzzParseLock(f *testing.F) {
	fuzzKernelsFile(f, "kernels.lock", ParseLock, func(t *testing.T, l *Lock) {
		again, err := ParseLock(l.Marshal(), "/k/kernels.lock")
		if err != nil {
			t.Fatalf("the lock written from an accepted one does not parse: %v\n%s", err, l.Marshal())
		}
		if len(again.Entries) != len(l.Entries) {
			t.Errorf("round trip: %d entries, then %d", len(l.Entries), len(again.Entries))
		}
	},
		"kernels:\n  - name: x\n    source: \"path a\"\n    release: \"7.3.0\"\n    vmlinuz_sha256: \""+strings.Repeat("a", 64)+"\"\n",
		"kernels:\n", "kernels: 3\n",
		"kernels:\n  - name: x\n    arch: \"arm64\"\n    source: \"path a\"\n    release: \"7.3.0\"\n    vmlinuz_sha256: \""+strings.Repeat("a", 64)+"\"\n",
	)
}

// FuzzARM64Image: the arm64 Image reader (the format check, gzip, the version banner, the BTF
// search of the memory image) answers any file with a value or an error, never a panic, within
// the watchdog's time; an Image it accepts has the magic, and a release it reads is one.
func FuzzARM64Image(f *testing.F) {
	u64 := &btf.Int{Name: "u64", Size: 8}
	blob := testenv.MarshalBTF(f, &btf.Func{Name: "f", Type: &btf.FuncProto{Return: u64}, Linkage: btf.GlobalFunc})
	img := fakeARM64Image("6.12.118+deb13-cloud-arm64", "", blob)
	f.Add(img)
	f.Add(img[:0x40])
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(img)
	zw.Close()
	f.Add(gz.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(t, data)()
		img, err := arm64ImageData(data)
		if err != nil {
			return
		}
		if !isARM64Image(img) {
			t.Fatal("accepted an Image without the magic")
		}
		if release, ok := bannerRelease(img); ok && !releasePattern.MatchString(release) {
			t.Errorf("banner release %q is not a kernel release", release)
		}
		if spec, err := imageBTF(img); err == nil && spec == nil {
			t.Error("imageBTF returned neither BTF nor an error")
		}
	})
}

// fuzzKernelsFile fuzzes parse, the reader of the kernels file name, seeded with the
// repository's own file and seeds: any input gives a value or an error naming the file, within
// the watchdog's time, and check looks at what it accepted.
func fuzzKernelsFile[T any](f *testing.F, name string, parse func([]byte, string) (T, error), check func(*testing.T, T), seeds ...string) {
	repo, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(repo)
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(t, data)()
		v, err := parse(data, "/k/"+name)
		if err != nil {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		check(t, v)
	})
}

// watchdog fails the test, naming the input, when a parse takes more than a few seconds: a loader
// that spins on some input would hang a command.
func watchdog(t *testing.T, data []byte) func() {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			panic(fmt.Sprintf("parse did not finish within 5s on %q", data))
		}
	}()
	return func() { close(done) }
}
