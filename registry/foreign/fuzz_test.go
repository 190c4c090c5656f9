package foreign

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// allocBound is what reading data may allocate: a fixed allowance plus a small multiple of the
// input, which maxValues and the once-per-node digests keep every file within.
func allocBound(data []byte) uint64 { return 8<<20 + 64*uint64(len(data)) }

// fuzzTable checks what must hold of any input in format: ParseTable returns an error or a table
// with its provenance, never a panic, within allocBound; a table it returns names every entry in
// its provenance, and written back in the same format it reads back with the same facts.
func fuzzTable(t *testing.T, format Format, data []byte) {
	var reg *registry.Registry
	var prov *Provenance
	var err error
	if n := testenv.Allocated(func() { reg, prov, err = ParseTable("fuzz", data, format) }); n > allocBound(data) {
		t.Fatalf("allocated %d bytes for %d", n, len(data))
	}
	if err != nil {
		if reg != nil || prov != nil {
			t.Fatal("table returned with an error")
		}
		return
	}
	if !prov.Foreign() || prov.Format != format {
		t.Fatalf("provenance of format %q", prov.Format)
	}
	for _, h := range reg.Helpers() {
		if e, ok := prov.Entry(h); !ok || e.Written == "" || !e.Claims["id"] {
			t.Fatalf("%s: provenance %+v", h.Name, e)
		}
	}
	var out bytes.Buffer
	if err := Export(&out, reg, prov, format, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	back, _, err := ParseTable("again", out.Bytes(), format)
	if err != nil {
		t.Fatalf("the export does not read back: %v\n%s", err, out.Bytes())
	}
	want, _ := json.Marshal(reg.Helpers())
	got, _ := json.Marshal(back.Helpers())
	if !bytes.Equal(want, got) {
		t.Fatalf("the export changed the facts:\n%s\n%s", want, got)
	}
}

func addSeeds(f *testing.F, files ...string) {
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzEDN feeds the EDN table reader arbitrary bytes.
func FuzzEDN(f *testing.F) {
	addSeeds(f, "guide-helpers.edn")
	f.Add([]byte(ednTable(ednEntryText("one-thing", 1))))
	f.Add([]byte(ednTable(ednEntryText("a", 1, `:prog-type-since {:xdp "6.1"}`, `:prog-type-until {:xdp "6.6"}`, `:gpl-only true`))))
	f.Add([]byte(`{:a {:id 1 :signature {:return :long :args [:ctx-ptr {:name "x" :type "u32"}]} :min-kernel "5.8" :prog-types :all :category :map :description "d"}}`))
	f.Add([]byte("(ns x) #_ (def y 1) (def helper-metadata \"doc\" ^:private '{:a #{1 2}})"))
	f.Add([]byte("{:a \"x\\u00e9\\n\" :b [1N 2.5M -3 +4] :c nil}"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzTable(t, FormatEDN, data) })
}

// FuzzJSONTable feeds the JSON table reader arbitrary bytes.
func FuzzJSONTable(f *testing.F) {
	addSeeds(f, "table.json")
	f.Add([]byte(`[{"id": 1, "name": "a", "signature": {"return": "long", "args": [{"name": "x", "type": "u32"}]}, "min_kernel": "5.8", "prog_types": "all", "category": "map", "description": "d"}]`))
	f.Add([]byte(`[{"id": 1.5, "name": null, "prog_types": ["xdp", "xdp"], "min_kernel": 5.10}]`))
	f.Add([]byte("[\n{\"id\": 1,,}]"))
	f.Add([]byte(`[] []`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzTable(t, FormatJSON, data) })
}
