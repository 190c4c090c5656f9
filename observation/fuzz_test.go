package observation

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// FuzzParseDocument feeds arbitrary bytes to the document reader (Parse, of probe and load
// documents, whose "results" member
// goes through the strict scanner of result_json.go) and to the scanner alone. What must hold:
// an error wrapping ErrInvalid or a document, never a panic; a document Parse accepts encodes
// and parses back to the same document; the scanner accepts an array of results exactly when
// encoding/json does (strictly, unknown keys refused), with the same values; and reading costs
// memory bounded by a small multiple of the input.
func FuzzParseDocument(f *testing.F) {
	good, err := Encode(validDoc())
	if err != nil {
		f.Fatal(err)
	}
	load, err := Encode(validLoadDoc())
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(good), string(good[:len(good)/2]), string(load), string(load[:len(load)/3]), "{}", "null", "", "[]", "{\"results\":[],\"results\":[]}",
		`{"schema":1,"kernel":{"release":"7.3","version":"7.3"},"results":[{"helper_id":1,"outcome":"supported"}],"guest":{"status":"ok"}}`,
		`[{"helper_id":1,"helper":"map_lookup_elem","prog_type":"xdp","variant":"xdp","outcome":"supported","detail":"R1 \u003c \ud83d\ude00"}]`,
		`[{"kfunc":"bpf_task_acquire","flags":"acquire","log":"0: (b7) r1 = 0\n"},{"helper_id":null}]`,
		`[{"helper_id":1.5}]`, `[{"helper_id":"1"}]`, `[{"colour":"red"}]`, "[{\"detail\":\"a\x01b\"}]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		doc, err := Parse("fuzz", data)
		runtime.ReadMemStats(&after)
		// The fixed part covers the decoder's buffers; the rest grows with the input (a
		// Result slot per "outcome" key, the document without its results).
		if cost, bound := after.TotalAlloc-before.TotalAlloc, uint64(1<<20+64*len(data)); cost > bound {
			t.Errorf("Parse of %d bytes allocated %d bytes, more than %d", len(data), cost, bound)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("error %v does not wrap ErrInvalid", err)
		}
		if err == nil {
			roundTrip(t, doc)
		}
		scannerLikeGeneric(t, data)
	})
}

// roundTrip checks that a parsed document encodes and parses back to itself.
func roundTrip(t *testing.T, doc *Document) {
	enc, err := Encode(doc)
	if err != nil {
		t.Fatalf("Encode of a parsed document: %v", err)
	}
	again, err := Parse("again", enc)
	if err != nil {
		t.Fatalf("Parse of its own encoding: %v\n%s", err, enc)
	}
	// Encode stamps the schema version and writes no results as [].
	want := *doc
	want.Schema = SchemaVersion
	for _, d := range []*Document{&want, again} {
		if len(d.Results) == 0 {
			d.Results = nil
		}
	}
	if !reflect.DeepEqual(&want, again) {
		t.Fatalf("the document changed on a round trip:\n%+v\n%+v", &want, again)
	}
}

// scannerLikeGeneric decodes data as an array of results with the scanner and with
// encoding/json, and expects both to accept it with the same values or both to refuse it.
func scannerLikeGeneric(t *testing.T, data []byte) {
	got, err := decodeResults(data)
	var want []genericResult
	werr := strictUnmarshal(data, &want)
	// encoding/json matches member names regardless of case ("Helper_ID"); the scanner, as
	// strict as a loader of ours, calls such a name unknown. Anything else both must agree on.
	caseOnly := err != nil && werr == nil && strings.Contains(err.Error(), "unknown field")
	if (err == nil) != (werr == nil) && !caseOnly {
		t.Fatalf("scanner error %v, encoding/json error %v, for %q", err, werr, data)
	}
	if err != nil {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, encoding/json %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != Result(want[i]) {
			t.Fatalf("result %d: %+v, encoding/json %+v", i, got[i], want[i])
		}
	}
}

func strictUnmarshal(data []byte, v any) error {
	if !json.Valid(data) {
		return errors.New("invalid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
