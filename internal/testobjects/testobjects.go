// Package testobjects holds the BPF objects the tests of `bpfmatrix load` load: one or a few per
// cause of observation.Cause a kernel can give, and objects that load everywhere once the
// run-time defaults are applied. The C sources are in src/; the compiled objects are checked in
// next to them (`make objects` rebuilds them with clang -O2 -g -target bpf), so that the tests
// run on machines without clang.
package testobjects

import (
	"embed"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

//go:embed *.o
var objects embed.FS

// Names returns the names of the objects (their file names without ".o"), sorted.
func Names() []string {
	entries, _ := objects.ReadDir(".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".o"))
	}
	slices.Sort(names)
	return names
}

// Bytes returns the object called name; false when there is none.
func Bytes(name string) ([]byte, bool) {
	b, err := objects.ReadFile(name + ".o")
	return b, err == nil
}

// Path writes the object called name to a temporary directory of t and returns its path, failing
// t when there is no such object.
func Path(t testing.TB, name string) string {
	t.Helper()
	b, ok := Bytes(name)
	if !ok {
		t.Fatalf("testobjects: no object %q (have %v)", name, Names())
	}
	path := filepath.Join(t.TempDir(), name+".o")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
