package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// Fixtures of the command's tests that boot the fake QEMU: local kernel images, gzipped
// observation files, copies of recorded observations.

// gz is s gzipped.
func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

// copyDir copies the files of directory from into directory to.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		src, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(to, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(dst, src)
		src.Close()
		dst.Close()
	}
}

// fakeBzImage is a file with just the x86 boot protocol header naming release: what the
// kernels file's loader checks of a local image (the fake QEMU boots nothing).
func fakeBzImage(release string) []byte {
	buf := make([]byte, 0x1000)
	copy(buf[0x202:], "HdrS")
	const verOff = 0x300 // from 0x200
	buf[0x20e], buf[0x20f] = verOff&0xff, verOff>>8
	copy(buf[0x200+verOff:], release+" (test@example.org) #1 SMP\x00")
	return buf
}

// namedFakeKernels writes a kernels.yaml of local images named as given, each a healthy guest
// of the fake QEMU (replaying a real 7.3 guest's stream).
func namedFakeKernels(t *testing.T, names ...string) string {
	t.Helper()
	kfile := fakeKernels(t) // sets the fake's mode and stream
	var y strings.Builder
	y.WriteString("kernels:\n")
	for _, n := range names {
		testenv.WriteFile(t, filepath.Join(filepath.Dir(kfile), n+".img"), fakeBzImage(n+".0-fake-"+fakeqemu.Replay))
		fmt.Fprintf(&y, "  - name: %q\n    path: %s.img\n", n, n)
	}
	testenv.WriteFile(t, kfile, []byte(y.String()))
	return kfile
}
