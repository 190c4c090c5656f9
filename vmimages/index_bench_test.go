package vmimages

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// realIndexes reads the Packages indexes of the private apt state in the user's cache (written
// by `bpfmatrix kernels fetch`), decompressed, keyed by suite. Benchmarks on them measure what a
// fetch parses: about 230 MB in ten suites.
func realIndexes(b *testing.B) map[string][]byte {
	b.Helper()
	cache, err := DefaultCacheDir()
	if err != nil {
		b.Skip(err)
	}
	if d := os.Getenv("BPFMATRIX_TEST_CACHE"); d != "" {
		cache = d
	}
	a := &apt{dir: filepath.Join(cache, "apt")}
	if _, err := os.Stat(a.sourcesListPath()); err != nil {
		b.Skip("no private apt state in the cache: run `bpfmatrix kernels fetch` first")
	}
	files, err := a.indexTargets(context.Background())
	if err != nil || len(files) == 0 {
		b.Skipf("no package index in %s: %v", a.listsDir(), err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		r, wait, err := openIndex(context.Background(), f.path)
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(r); err != nil {
			b.Fatal(err)
		}
		if err := wait(); err != nil {
			b.Fatal(err)
		}
		out[f.suite] = buf.Bytes()
	}
	return out
}

// BenchmarkParseRealIndex parses every suite's Packages index as loadIndex does.
func BenchmarkParseRealIndex(b *testing.B) {
	indexes := realIndexes(b)
	total := 0
	for _, data := range indexes {
		total += len(data)
	}
	b.SetBytes(int64(total))
	for b.Loop() {
		idx := &packageIndex{}
		for suite, data := range indexes {
			if err := idx.add(bytes.NewReader(data), suite, suite); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkCompareRealVersions sorts the versions of every kernel package in the real index,
// the comparisons resolve makes.
func BenchmarkCompareRealVersions(b *testing.B) {
	indexes := realIndexes(b)
	idx := &packageIndex{}
	for suite, data := range indexes {
		if err := idx.add(bytes.NewReader(data), suite, suite); err != nil {
			b.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, recs := range idx.byName {
		for _, r := range recs {
			seen[r.Version] = true
		}
	}
	versions := slices.Sorted(maps.Keys(seen))
	for b.Loop() {
		for _, v := range versions {
			for _, w := range versions {
				CompareDebianVersions(v, w)
			}
		}
	}
	b.ReportMetric(float64(len(versions)*len(versions)), "compares/op")
}
