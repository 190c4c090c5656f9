package registry

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// allocBound is what parsing data may allocate: a fixed allowance for the parser's own tables,
// plus a small multiple of the input (the YAML parser's nodes cost some hundred bytes for a value
// written in two).
func allocBound(data []byte) uint64 { return 8<<20 + 128*uint64(len(data)) }

// fuzzTable runs f over parse, one of the two tables' parsers, from seeds: for any input parse
// returns an error or a table, never both and never a panic, within allocBound, and check holds
// each table it returns to the loader's promises.
func fuzzTable[T any](f *testing.F, parse func(file string, data []byte) (*T, error), check func(*testing.T, *T), seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var table *T
		var err error
		if n := testenv.Allocated(func() { table, err = parse("fuzz.yaml", data) }); n > allocBound(data) {
			t.Fatalf("allocated %d bytes for %d", n, len(data))
		}
		if err != nil {
			if table != nil {
				t.Fatal("table returned with an error")
			}
			return
		}
		check(t, table)
	})
}

// FuzzParse feeds the helpers.yaml loader arbitrary bytes (see fuzzTable).
func FuzzParse(f *testing.F) {
	small, err := os.ReadFile(filepath.Join("testdata", "small.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	fuzzTable(f, Parse, checkLoadedRegistry, small, embedded, []byte(entry(1, "a")),
		[]byte("- &a {id: 1}\n- *a\n"), []byte("- id: 1\n  name: [\n"), []byte(entry(1, "a", pointFacts...)))
}

// FuzzKfuncs feeds the kfuncs.yaml loader arbitrary bytes (see fuzzTable).
func FuzzKfuncs(f *testing.F) {
	fuzzTable(f, ParseKfuncs, checkLoadedKfuncs, embeddedKfuncs, []byte(kfuncEntry()),
		[]byte(kfuncEntry(`  last_kernel: "6.6"`, `  gaps: ["6.1..6.2"]`, `  prog_type_since: {xdp: "6.1"}`, `  prog_type_until: {xdp: "6.6"}`, `  prog_type_gaps: {sched_cls: ["5.10..5.15"]}`)),
		[]byte(strings.Replace(kfuncEntry(), "[xdp, sched_cls]", "[]", 1)), []byte("[]\n"), []byte("- name: bpf_a\n  prototype: [\n"),
		[]byte(kfuncEntry(pointFacts...)),
		[]byte(conditionEntry(`  conditions: {tracepoint: {holds: [bpf_list_head], until: "7.1", gaps: ["6.16..6.17"], evidence: "probe: 6.12"}}`)))
}

// checkLoadedRegistry fails t when reg breaks a promise of the loader.
func checkLoadedRegistry(t *testing.T, reg *Registry) {
	seen := map[int]bool{}
	for _, h := range reg.Helpers() {
		if h.ID <= 0 || seen[h.ID] || h.Name == "" || h.Description == "" || h.MinKernel.IsZero() || !isKnownCategory(h.Category) {
			t.Fatalf("invalid entry accepted: %+v", h)
		}
		seen[h.ID] = true
		checkLoadedPoints(t, h.Name, &h.Availability)
		if got, ok := reg.ByID(h.ID); !ok || got != h {
			t.Fatalf("ByID(%d) broken", h.ID)
		}
	}
}

// checkLoadedKfuncs fails t when a kfunc of ks breaks a promise of the loader.
func checkLoadedKfuncs(t *testing.T, ks *Kfuncs) {
	for _, k := range ks.All() {
		checkLoadedKfunc(t, ks, k)
	}
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
	checkLoadedPoints(t, k.Name, &k.Availability)
	for typ, c := range k.Conditions {
		if !k.ProgTypes.Contains(typ) || len(c.Holds) == 0 || c.Evidence == "" {
			t.Fatalf("%s: condition %s %+v accepted (types %s)", k.Name, typ, c, k.ProgTypes)
		}
		for _, h := range c.Holds {
			if !slices.Contains(ObjectsHeld(k.Prototype), h) {
				t.Fatalf("%s: condition %s holds %s, which %q does not take", k.Name, typ, h, k.Prototype)
			}
		}
	}
}

// checkLoadedPoints fails t when an attach point of a breaks a promise of the loader: its key is
// canonical and answers a question about itself, it has evidence, and a refusal is of what its
// program type offers, on every kernel.
func checkLoadedPoints(t *testing.T, name string, a *Availability) {
	t.Helper()
	for key, pt := range a.AttachPoints {
		// A key named as its program type is the type's default attachment, which Locate
		// answers from that key as it does any other.
		p, err := a.Locate(key)
		if err != nil || p.Key != key || pt.Evidence == "" {
			t.Fatalf("%s: attach point %q accepted (located as %q, %v)", name, key, p.Key, err)
		}
		if pt.Refused && (!pt.Since.IsZero() || !pt.Until.IsZero() || len(pt.Gaps) > 0 || !a.ProgTypes.Contains(p.ProgType())) {
			t.Fatalf("%s: refusal at %q accepted: %+v", name, key, pt)
		}
	}
}
