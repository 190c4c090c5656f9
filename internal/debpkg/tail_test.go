package debpkg

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// blockDeb builds a .deb whose data.tar.xz is in blocks of blockSize decompressed bytes, as
// dpkg-deb's threaded xz writes large packages (its blocks are 24 MiB, too large for a test).
func blockDeb(t *testing.T, files []tarFile, blockSize int64) []byte {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg, Format: tar.FormatGNU}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var xzBuf bytes.Buffer
	w, err := xz.WriterConfig{BlockSize: blockSize, CheckSum: xz.CRC64}.NewWriter(&xzBuf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(tarBuf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var deb bytes.Buffer
	deb.WriteString(arMagic)
	for _, m := range []struct {
		name string
		data []byte
	}{{"debian-binary", []byte("2.0\n")}, {"data.tar.xz", xzBuf.Bytes()}} {
		fmt.Fprintf(&deb, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name+"/", 0, 0, 0, "100644", len(m.data))
		deb.Write(m.data)
		if len(m.data)%2 == 1 {
			deb.WriteByte('\n')
		}
	}
	return deb.Bytes()
}

type tarFile struct{ name, body string }

// kernelFiles is a kernel package's data archive in small: a large vmlinuz, many modules
// with long names, and the module lists at the end.
func kernelFiles() []tarFile {
	files := []tarFile{{"./boot/config-6.1.0-test", "CONFIG_BPF=y\n"}, {"./boot/vmlinuz-6.1.0-test", strings.Repeat("bzImage ", 20000)}}
	for i := range 200 {
		dir := "./usr/lib/modules/6.1.0-test/kernel/drivers/a/directory/deep/enough/for/a/gnu/long/name/"
		files = append(files, tarFile{fmt.Sprintf("%smod%03d.ko", dir, i), strings.Repeat(fmt.Sprintf("module %d ", i), 50+i)})
	}
	return append(files,
		tarFile{"./usr/lib/modules/6.1.0-test/modules.builtin", "kernel/drivers/virtio/virtio.ko\n"},
		tarFile{"./usr/lib/modules/6.1.0-test/modules.order", "kernel/drivers/a/mod000.ko\n"},
		tarFile{"./usr/share/doc/linux-image-6.1.0-test/changelog.gz", strings.Repeat("c", 3000)},
	)
}

func TestTailFiles(t *testing.T) {
	files := kernelFiles()
	want := map[string]string{}
	for _, f := range files {
		want[f.name] = f.body
	}
	tests := []struct {
		name      string
		deb       []byte
		keep      func(string) bool
		wantNames []string // that must be found; nil: ErrNoTail
	}{
		{"module lists in the last block", blockDeb(t, files, 64<<10), isList, []string{"./usr/lib/modules/6.1.0-test/modules.builtin", "./usr/lib/modules/6.1.0-test/modules.order"}},
		{"every file of the last block", blockDeb(t, files, 64<<10), func(string) bool { return true }, []string{"./usr/share/doc/linux-image-6.1.0-test/changelog.gz"}},
		{"one block", blockDeb(t, files, 1<<30), isList, nil},
		{"gzip", buildDeb(t, "gzip", map[string]string{"lib/modules/6.1.0-test/modules.builtin": "x"}), isList, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Open(bytes.NewReader(tt.deb), int64(len(tt.deb)))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			got, err := a.TailFiles(tt.keep)
			if tt.wantNames == nil {
				if !errors.Is(err, ErrNoTail) {
					t.Fatalf("TailFiles = %d files, %v; want ErrNoTail", len(got), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tt.wantNames {
				if _, ok := got[n]; !ok {
					t.Errorf("%s not found in the last block", n)
				}
			}
			for n, body := range got {
				if body := string(body); body != want[n] {
					t.Errorf("%s: %d bytes differ from the %d packed", n, len(body), len(want[n]))
				}
			}
		})
	}
}

func isList(name string) bool {
	return strings.HasSuffix(name, "/modules.builtin") || strings.HasSuffix(name, "/modules.order")
}

// FuzzTarFrom feeds arbitrary bytes to the search for tar headers in a block: it returns files
// only from a chain of headers, each no larger than the bytes it was given.
func FuzzTarFrom(f *testing.F) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, tf := range kernelFiles()[200:] {
		tw.WriteHeader(&tar.Header{Name: tf.name, Mode: 0o644, Size: int64(len(tf.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(tf.body))
	}
	tw.Close()
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[512:])
	f.Fuzz(func(t *testing.T, data []byte) {
		files, ok := tarFrom(data, func(string) bool { return true })
		if !ok && files != nil {
			t.Fatalf("no chain, yet %d files", len(files))
		}
		total := 0
		for _, b := range files {
			total += len(b)
		}
		if total > len(data) {
			t.Fatalf("%d bytes of files from %d bytes", total, len(data))
		}
	})
}
