package debpkg

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// buildDeb builds a real package with dpkg-deb, its data archive compressed as comp says.
func buildDeb(t *testing.T, comp string, files map[string]string) []byte {
	t.Helper()
	testenv.NeedCommand(t, "dpkg-deb", "dpkg")
	root := t.TempDir()
	tree := filepath.Join(root, "tree")
	files["DEBIAN/control"] = "Package: t\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: t\n"
	for p, body := range files {
		full := filepath.Join(tree, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		testenv.WriteFile(t, full, []byte(body))
	}
	out := filepath.Join(root, "t.deb")
	if msg, err := exec.Command("dpkg-deb", "--root-owner-group", "-Z"+comp, "--build", tree, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -Z%s: %v\n%s", comp, err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDataEveryCompression(t *testing.T) {
	for _, comp := range []string{"xz", "zstd", "gzip", "none"} {
		t.Run(comp, func(t *testing.T) {
			want := map[string]string{
				"boot/vmlinuz-6.1.0-test":                "bzImage " + comp,
				"lib/modules/6.1.0-test/modules.builtin": "kernel/lib/crc32.ko\n",
			}
			deb := buildDeb(t, comp, map[string]string{
				"boot/vmlinuz-6.1.0-test":                want["boot/vmlinuz-6.1.0-test"],
				"lib/modules/6.1.0-test/modules.builtin": want["lib/modules/6.1.0-test/modules.builtin"],
			})
			got := readData(t, deb)
			for name, body := range want {
				if got[name] != body {
					t.Errorf("%s = %q, want %q", name, got[name], body)
				}
			}
			if _, ok := got["DEBIAN/control"]; ok {
				t.Error("the control archive's files were read as data")
			}
		})
	}
}

// readData returns the regular files of deb's data archive by path.
func readData(t *testing.T, deb []byte) map[string]string {
	t.Helper()
	tr, zr, err := Data(bytes.NewReader(deb), int64(len(deb)))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	got := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			got[strings.TrimPrefix(hdr.Name, "./")] = string(body)
		}
	}
}

// arFile builds an ar archive from name, body pairs, each header's size field written as
// given (so that a test can make it lie) or, when empty, as the body's length.
func arFile(members ...[3]string) []byte {
	var b bytes.Buffer
	b.WriteString(arMagic)
	for _, m := range members {
		size := m[2]
		if size == "" {
			size = fmt.Sprint(len(m[1]))
		}
		fmt.Fprintf(&b, "%-16s%-12s%-6s%-6s%-8s%-10s`\n", m[0], "0", "0", "0", "100644", size)
		b.WriteString(m[1])
		if len(m[1])%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func TestDataRefuses(t *testing.T) {
	tests := []struct {
		name string
		deb  []byte
		want string
	}{
		{"not ar", []byte("PK\x03\x04 a zip file"), "no ar header"},
		{"no data member", arFile([3]string{"debian-binary", "2.0\n", ""}, [3]string{"control.tar.xz", "x", ""}), "no data.tar member"},
		{"size past the end", arFile([3]string{"debian-binary", "2.0\n", "4000"}), "does not fit"},
		{"size not a number", arFile([3]string{"debian-binary", "2.0\n", "-x"}), "does not fit"},
		{"bzip2 data", arFile([3]string{"debian-binary", "2.0\n", ""}, [3]string{"data.tar.bz2", "BZh9", ""}), "data.tar.bz2"},
		{"corrupt xz data", arFile([3]string{"data.tar.xz", "\xfd7zXZ\x00garbage", ""}), "data.tar.xz"},
		{"truncated header", append(arFile([3]string{"debian-binary", "2.0\n", ""}), "data.tar"...), "header at byte 72"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Data(bytes.NewReader(tt.deb), int64(len(tt.deb)))
			testenv.WantErr(t, err, tt.want)
		})
	}
}

// FuzzMembers reads arbitrary bytes as an ar archive: what it lists must lie inside the input,
// each member after the previous one.
func FuzzMembers(f *testing.F) {
	f.Add(arFile([3]string{"debian-binary", "2.0\n", ""}, [3]string{"data.tar", "abc", ""}))
	f.Add(arFile([3]string{"debian-binary", "2.0\n", "99999999"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := members(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		end := int64(len(arMagic))
		for _, m := range ms {
			_, off, n := m.data.Outer()
			if off < end+arHeaderLen || off+n > int64(len(data)) {
				t.Fatalf("member %q at [%d, %d) in %d bytes, the previous ending at %d", m.name, off, off+n, len(data), end)
			}
			end = off + n
		}
	})
}
