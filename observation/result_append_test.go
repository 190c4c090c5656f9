package observation

import (
	"encoding/json"
	"testing"
)

// TestAppendJSONLikeMarshal holds AppendJSON to json.Marshal's bytes: for results with every
// field empty and every field set, and for strings with every byte value, escapes, multi-byte
// and invalid UTF-8, and the line and paragraph separators.
func TestAppendJSONLikeMarshal(t *testing.T) {
	var all []byte
	for c := 0; c < 256; c++ {
		all = append(all, byte(c))
	}
	strs := []string{
		"", "plain", string(all), "R1 type=<ctx> expected=fp & \"q\" \\ \b\f\n\r\t\x00\x1f\x7f",
		"héllo 世界 🙂", "\u2028 and \u2029", "bad \xff\xfe utf8 \xe2\x80", "cut at the end \xe2",
	}
	results := []Result{{}, {HelperID: -3}}
	for i, s := range strs {
		results = append(results,
			Result{HelperID: i, Kfunc: s, Helper: s, ProgType: s, Variant: s, Outcome: Outcome(s), Detail: s, Log: s, Flags: s, From: s, Like: s},
			Result{HelperID: 1000 + i, Helper: s, Detail: s, Like: s})
	}
	for _, r := range results {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("AppendJSON(%#v):\n got %s\nwant %s", r, got, want)
		}
	}
}

// FuzzAppendJSON compares AppendJSON with json.Marshal for any strings.
func FuzzAppendJSON(f *testing.F) {
	f.Add("R1 type=<ctx>", "\xff\u2028\n", 7)
	f.Fuzz(func(t *testing.T, a, b string, id int) {
		r := Result{HelperID: id, Kfunc: a, Helper: b, Detail: a + b, Log: b, Like: a}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("got %s\nwant %s", got, want)
		}
	})
}
