package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// allocBound is what parsing data may allocate: a fixed allowance for the parser's own tables,
// plus a small multiple of the input (the YAML parser's nodes cost some hundred bytes for a value
// written in two).
func allocBound(data []byte) uint64 { return 8<<20 + 128*uint64(len(data)) }

// fuzzParse parses data with parse, one of the two tables' parsers, and fails t when that
// allocates more than allocBound or returns a table with an error. It returns the table and
// whether parse accepted data.
func fuzzParse[T any](t *testing.T, data []byte, parse func(file string, data []byte) (*T, error)) (*T, bool) {
	t.Helper()
	var table *T
	var err error
	if n := testenv.Allocated(func() { table, err = parse("fuzz.yaml", data) }); n > allocBound(data) {
		t.Fatalf("allocated %d bytes for %d", n, len(data))
	}
	if err != nil && table != nil {
		t.Fatal("table returned with an error")
	}
	return table, err == nil
}

// FuzzParse feeds the helpers.yaml loader arbitrary bytes: it returns an error or a registry,
// never both and never a panic, within allocBound, and a registry it returns keeps the loader's
// promises.
func FuzzParse(f *testing.F) {
	small, err := os.ReadFile(filepath.Join("testdata", "small.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Add(embedded)
	f.Add([]byte(entry(1, "a")))
	f.Add([]byte("- &a {id: 1}\n- *a\n"))
	f.Add([]byte("- id: 1\n  name: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		reg, ok := fuzzParse(t, data, Parse)
		if !ok {
			return
		}
		// A registry that loads must satisfy what the loader promises.
		seen := map[int]bool{}
		for _, h := range reg.Helpers() {
			if h.ID <= 0 || seen[h.ID] || h.Name == "" || h.Description == "" || h.MinKernel.IsZero() || !isKnownCategory(h.Category) {
				t.Fatalf("invalid entry accepted: %+v", h)
			}
			seen[h.ID] = true
			if got, ok := reg.ByID(h.ID); !ok || got != h {
				t.Fatalf("ByID(%d) broken", h.ID)
			}
		}
	})
}

// FuzzKfuncs feeds the kfuncs.yaml loader arbitrary bytes: it returns an error or a table, never
// both and never a panic, within allocBound, and a table it returns keeps the loader's promises.
func FuzzKfuncs(f *testing.F) {
	f.Add(embeddedKfuncs)
	f.Add([]byte(kfuncEntry()))
	f.Add([]byte(kfuncEntry(`  last_kernel: "6.6"`, `  gaps: ["6.1..6.2"]`, `  prog_type_since: {xdp: "6.1"}`, `  prog_type_until: {xdp: "6.6"}`, `  prog_type_gaps: {sched_cls: ["5.10..5.15"]}`)))
	f.Add([]byte(strings.Replace(kfuncEntry(), "[xdp, sched_cls]", "[]", 1)))
	f.Add([]byte("[]\n"))
	f.Add([]byte("- name: bpf_a\n  prototype: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, ok := fuzzParse(t, data, ParseKfuncs)
		if !ok {
			return
		}
		for _, k := range ks.All() {
			checkLoadedKfunc(t, ks, k)
		}
	})
}

// checkLoadedKfunc fails t when k breaks a promise of the loader.
func checkLoadedKfunc(t *testing.T, ks *Kfuncs, k *Kfunc) {
	t.Helper()
	if got, ok := ks.Lookup(k.Name); !ok || got != k || !strings.Contains(k.Prototype, k.Name+"(") || k.MinKernel.IsZero() {
		t.Fatalf("invalid entry accepted: %+v", k)
	}
	if !k.LastKernel.IsZero() && k.LastKernel.Series().Less(k.MinKernel.Series()) {
		t.Fatalf("%s: last_kernel %s before min_kernel %s", k.Name, k.LastKernel, k.MinKernel)
	}
	for typ, until := range k.ProgTypeUntil {
		if since, ok := k.ProgTypeSince[typ]; ok && until.Less(since.Series()) || !k.ProgTypes.Contains(typ) {
			t.Fatalf("%s: %s until %s accepted (since %s, types %s)", k.Name, typ, until, since, k.ProgTypes)
		}
	}
	for typ, since := range k.ProgTypeSince {
		if since.Less(k.MinKernel) || !k.ProgTypes.Contains(typ) {
			t.Fatalf("%s: %s since %s accepted (min_kernel %s, types %s)", k.Name, typ, since, k.MinKernel, k.ProgTypes)
		}
	}
}
