package observation

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// genericResult is Result without its UnmarshalJSON: what encoding/json's reflection makes of
// the same bytes, the reference the fast decoder must agree with.
type genericResult Result

// TestDecodeResultsLikeGeneric decodes result arrays with the document's fast path and with
// encoding/json, and expects the same values, or an error from both.
func TestDecodeResultsLikeGeneric(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		wantErr    string // a part of the fast path's error; "" for success
	}{
		{name: "empty", json: `[]`},
		{name: "null", json: `null`},
		{name: "helper", json: `[{"helper_id":1,"helper":"map_lookup_elem","prog_type":"xdp","variant":"xdp","outcome":"supported","detail":"R1 type=scalar expected=map_ptr"}]`},
		{name: "answer taken from the base variant", json: `[{"helper_id":1,"helper":"map_lookup_elem","prog_type":"tracing","variant":"fexit","outcome":"supported","detail":"","from":"fentry"}]`},
		{name: "kfunc with flags and log", json: `[{"helper_id":0,"kfunc":"bpf_task_acquire","helper":"","prog_type":"tracing","variant":"tp_btf","outcome":"supported","detail":"x","flags":"acquire,trusted_args","log":"0: (b7) r1 = 0\n1: call"}]`},
		{name: "escapes", json: `[{"detail":"R1 type=ptr_<\u003e \"quoted\" \\ back\/slash \t tab \ud83d\ude00"}]`},
		{name: "white space", json: " [ { \"helper_id\" : 7 , \"outcome\" : \"gpl_only\" } ,\n{ } ] "},
		{name: "null members", json: `[{"helper_id":null,"detail":null}]`},
		{name: "negative id", json: `[{"helper_id":-3}]`},
		{name: "unknown key", json: `[{"helper_id":1,"colour":"red"}]`, wantErr: `unknown field "colour"`},
		{name: "string id", json: `[{"helper_id":"1"}]`, wantErr: "not an integer"},
		{name: "fraction id", json: `[{"helper_id":1.5}]`, wantErr: "not an integer"},
		{name: "number detail", json: `[{"detail":5}]`, wantErr: "want a string"},
		{name: "cut", json: `[{"helper_id":1,"detail":"abc`, wantErr: "JSON cut off"},
		{name: "no comma", json: `[{"helper_id":1} {"helper_id":2}]`, wantErr: "want , or ]"},
		{name: "trailing", json: `[] x`, wantErr: "after the value"},
		{name: "control character", json: "[{\"detail\":\"a\x01b\"}]", wantErr: "control character"},
		{name: "not an array", json: `{"helper_id":1}`, wantErr: "want '['"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeResults([]byte(tc.json))
			if testenv.WantErr(t, err, tc.wantErr) {
				return
			}
			var want []genericResult
			if err := json.Unmarshal([]byte(tc.json), &want); err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d results, encoding/json %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != Result(want[i]) {
					t.Errorf("result %d: %+v, encoding/json %+v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestParseRecordedLikeGeneric parses a real 7.3 document (26,000 results with kfuncs) with
// Parse and with plain encoding/json and expects the same document.
func TestParseRecordedLikeGeneric(t *testing.T) {
	f := testenv.Must(os.Open("../cmd/bpfmatrix/testdata/observations/7.3.json.gz"))(t)
	defer f.Close()
	z := testenv.Must(gzip.NewReader(f))(t)
	data := testenv.Must(io.ReadAll(z))(t)
	got := testenv.Must(Parse("7.3.json", data))(t)
	var want struct {
		Document
		Results []genericResult `json:"results"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != len(want.Results) || len(got.Results) < 20000 {
		t.Fatalf("%d results, encoding/json %d", len(got.Results), len(want.Results))
	}
	for i := range want.Results {
		if got.Results[i] != Result(want.Results[i]) {
			t.Fatalf("result %d: %+v, encoding/json %+v", i, got.Results[i], want.Results[i])
		}
	}
	gotRest, wantRest := *got, want.Document
	gotRest.Results, wantRest.Results = nil, nil
	if !reflect.DeepEqual(gotRest, wantRest) {
		t.Error("the document's other members differ from encoding/json's")
	}
}

// TestParseResultsMemberOnce refuses a document with two "results" members: the generic
// decoder would keep the last silently.
func TestParseResultsMemberOnce(t *testing.T) {
	_, err := Parse("x.json", []byte(`{"schema":1,"results":[],"results":[],"guest":{"status":"failed"}}`))
	if err == nil || !strings.Contains(err.Error(), `second "results"`) {
		t.Fatalf("error %v", err)
	}
}

// BenchmarkParseRecorded measures Parse on the 7.3 document: `verify NAME` parses eleven such
// documents from the cache.
func BenchmarkParseRecorded(b *testing.B) {
	f, err := os.Open("../cmd/bpfmatrix/testdata/observations/7.3.json.gz")
	if err != nil {
		b.Fatal(err)
	}
	z, _ := gzip.NewReader(f)
	data, _ := io.ReadAll(z)
	f.Close()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("7.3.json", data); err != nil {
			b.Fatal(err)
		}
	}
}
