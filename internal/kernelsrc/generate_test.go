package kernelsrc

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
)

// TestWriteExtract rewrites testdata/registrations-<series>.txt from the tree named by
// BPFMATRIX_KERNEL_SOURCE, as unpacked by tools/fetchsource (whose bpfmatrix-source.txt gives the
// Debian package and version). It runs only when that variable is set:
//
//	dir=$(go run ./tools/fetchsource -series 6.12 -version 6.12.118-1)
//	BPFMATRIX_KERNEL_SOURCE=$dir go test ./internal/kernelsrc -run TestWriteExtract
func TestWriteExtract(t *testing.T) {
	root := os.Getenv("BPFMATRIX_KERNEL_SOURCE")
	if root == "" {
		t.Skip("set BPFMATRIX_KERNEL_SOURCE to an unpacked linux-source tree to rewrite testdata/registrations-*.txt")
	}
	src, err := Parse(root)
	if err != nil {
		t.Fatal(err)
	}
	origin, err := os.ReadFile(filepath.Join(root, "bpfmatrix-source.txt"))
	if err != nil {
		t.Fatalf("the tree does not say which Debian package it is (unpack it with tools/fetchsource): %v", err)
	}
	for _, l := range strings.Split(string(origin), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		switch k {
		case "package":
			src.Package = v
		case "version":
			src.DebianVersion = v
		}
	}
	if src.Package == "" || src.DebianVersion == "" {
		t.Fatalf("%s/bpfmatrix-source.txt names no package and version", root)
	}
	series, _, _ := strings.Cut(strings.TrimPrefix(src.Package, "linux-source-"), "~")
	if !strings.HasPrefix(src.Kernel, series+".") {
		t.Fatalf("package %s holds kernel %s", src.Package, src.Kernel)
	}
	var buf bytes.Buffer
	err = src.WriteExtract(&buf,
		fmt.Sprintf("Kfunc registrations of Debian's %s %s (Linux %s), read by internal/kernelsrc.", src.Package, src.DebianVersion, src.Kernel),
		"Written by TestWriteExtract; see testdata/README.md to write it again.",
	)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join("testdata", "registrations-"+series+".txt")
	if err := files.WriteAtomic(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// What was written must read back as the same facts.
	back, err := ReadExtract(out, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Sets) != len(src.Sets) || len(back.Registrations) != len(src.Registrations) || len(back.IDSets) != len(src.IDSets) {
		t.Fatalf("%s reads back as %d sets, %d id sets, %d registrations; wrote %d, %d, %d", out,
			len(back.Sets), len(back.IDSets), len(back.Registrations), len(src.Sets), len(src.IDSets), len(src.Registrations))
	}
	t.Logf("%s: %d sets, %d kfuncs, %d id sets, %d registrations", out, len(src.Sets), len(src.Kfuncs()), len(src.IDSets), len(src.Registrations))
}
