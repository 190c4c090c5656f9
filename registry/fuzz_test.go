package registry

import (
	"runtime"
	"strings"
	"testing"
)

// allocBound is what parsing data may allocate: a fixed allowance for the parser's own tables,
// plus a small multiple of the input (the YAML parser's nodes cost some hundred bytes for a value
// written in two).
func allocBound(data []byte) uint64 { return 8<<20 + 128*uint64(len(data)) }

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
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
		var ks *Kfuncs
		var err error
		if n := allocated(func() { ks, err = ParseKfuncs("fuzz.yaml", data) }); n > allocBound(data) {
			t.Fatalf("allocated %d bytes for %d", n, len(data))
		}
		if err != nil {
			if ks != nil {
				t.Fatal("table returned with an error")
			}
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
