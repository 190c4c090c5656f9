package objverdict

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

var goldenJSON = filepath.Join("testdata", "golden", "load.json")

// TestReadReportGolden: the golden load.json reads back as the report it was written from.
func TestReadReportGolden(t *testing.T) {
	got, err := ReadReport(goldenJSON)
	if err != nil {
		t.Fatal(err)
	}
	if want := goldenReport(t); !reflect.DeepEqual(got, want) {
		t.Errorf("read back:\n%+v\nwritten:\n%+v", got, want)
	}
}

// TestReadReportRefuses: what NewReport cannot have written is refused, with the file's name
// (and the line, where the JSON itself is broken).
func TestReadReportRefuses(t *testing.T) {
	golden, err := os.ReadFile(goldenJSON)
	if err != nil {
		t.Fatal(err)
	}
	// edit changes the golden report's generic JSON.
	edit := func(change func(doc map[string]any)) string {
		var doc map[string]any
		if err := json.Unmarshal(golden, &doc); err != nil {
			t.Fatal(err)
		}
		change(doc)
		out, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	load := func(doc map[string]any, i int) map[string]any { return doc["loads"].([]any)[i].(map[string]any) }
	prog := func(doc map[string]any, i int) map[string]any { return doc["programs"].([]any)[i].(map[string]any) }
	tests := []struct {
		name, text, want string
	}{
		{"not JSON", "kernels: [5.10]\n", "load.json:1: invalid character"},
		{"empty", "", "load.json:1: EOF"},
		{"truncated", string(golden[:len(golden)/2]), "unexpected EOF"},
		{"two values", string(golden) + "{}\n", "more than one JSON value"},
		{"a list", "[]", "cannot unmarshal array"},
		{"null", "null", `want the keys "kernels", "loads" and "programs"`},
		{"wrong type on line 16", strings.Replace(string(golden), `"loaded": false`, `"loaded": "no"`, 1), `load.json:16: json: cannot unmarshal string`},
		{"unknown top-level key", edit(func(d map[string]any) { d["summary"] = "x" }), `unknown field "summary"`},
		{"unknown answer key", edit(func(d map[string]any) { load(d, 2)["colour"] = "red" }), `unknown field "colour"`},
		{"unknown calls key", edit(func(d map[string]any) { load(d, 0)["calls"].(map[string]any)["progs"] = []any{} }), `unknown field "progs"`},
		{"missing programs", edit(func(d map[string]any) { delete(d, "programs") }), `want the keys`},
		{"bad cause word", edit(func(d map[string]any) { load(d, 1)["cause"] = "helper_unkown" }), `loads[1] (calls.o guide_example on 6.12): unknown cause "helper_unkown"`},
		{"refused without cause", edit(func(d map[string]any) { load(d, 0)["cause"] = "" }), "loads[0] (calls.o guide_example on 5.10): refused without a cause"},
		{"loaded with cause", edit(func(d map[string]any) { load(d, 0)["loaded"] = true }), `loaded but with cause "helper_unknown"`},
		{"kernel not listed", edit(func(d map[string]any) { load(d, 0)["kernel"] = "4.19" }), `kernel "4.19" is not one of the report's kernels`},
		{"kernel listed twice", edit(func(d map[string]any) { d["kernels"] = []any{"5.10", "6.12", "7.3", "6.12"} }), `kernels[3]: empty or repeated kernel "6.12"`},
		{"empty object", edit(func(d map[string]any) { load(d, 0)["object"] = "" }), `empty "object" or "program"`},
		{"two answers on one kernel", edit(func(d map[string]any) { load(d, 1)["kernel"] = "5.10" }), "loads[1]: a second answer for calls.o guide_example on 5.10"},
		{"summary without answers", edit(func(d map[string]any) { prog(d, 0)["program"] = "ghost" }), "programs[0]: calls.o ghost (kprobe/do_sys_open) has no answer in loads"},
		{"summary twice", edit(func(d map[string]any) { d["programs"] = append(d["programs"].([]any), prog(d, 0)) }), "a second summary of calls.o guide_example"},
		{"answers without summary", edit(func(d map[string]any) { d["programs"] = d["programs"].([]any)[1:] }), "programs answered in loads"},
		{"loads on a kernel not answered", edit(func(d map[string]any) { prog(d, 0)["loads_on"] = []any{"4.19"} }), `loads on "4.19", which has no answer for it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testenv.WriteFile(t, filepath.Join(t.TempDir(), "load.json"), []byte(tt.text))
			r, err := ReadReport(path)
			if err == nil {
				t.Fatalf("accepted: %+v", r)
			}
			if !strings.HasPrefix(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to begin with %s and hold %q", err, path, tt.want)
			}
		})
	}
}

// TestReadReportMissing: a file that is not there is an error naming it.
func TestReadReportMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "load.json")
	if _, err := ReadReport(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("missing file: %v", err)
	}
}
