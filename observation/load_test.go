package observation

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func validLoadDoc() *Document {
	yes := true
	return &Document{
		Facts: Facts{Kernel: KernelInfo{Release: "5.10.0-35-cloud-amd64", Version: "5.10.237"}},
		Loads: []ProgramLoad{
			{Object: "xdp.o", ObjectSHA256: "aa", Program: "pass", Section: "xdp", ProgType: "xdp", Loaded: true, Attached: &yes, Seconds: 0.01},
			{Object: "loop.o", ObjectSHA256: "bb", Program: "count", Section: "kprobe/do_sys_open", ProgType: "kprobe",
				Cause: CauseHelperUnknown, Reason: "invalid func unknown#181", Log: "0: (85) call unknown#181\ninvalid func unknown#181", Seconds: 0.02},
		},
		Guest: &Guest{Status: StatusOK, Accel: "tcg", Image: Image{SHA256: "cd", Version: "5.10.237"}},
	}
}

// TestLoadDocumentRoundTrip: a load run's document needs no probe results or program types, and
// Parse reads back what Encode wrote.
func TestLoadDocumentRoundTrip(t *testing.T) {
	data, err := Encode(validLoadDoc())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse("5.10.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Loads) != 2 || got.Loads[1].Cause != CauseHelperUnknown || !*got.Loads[0].Attached {
		t.Fatalf("loads read back: %+v", got.Loads)
	}
	again, _ := Encode(got)
	if !bytes.Equal(data, again) {
		t.Fatalf("round trip changed the document:\n%s\n%s", data, again)
	}
	// A probe document is written without the key: the files of run stay as they were.
	probe, _ := Encode(validDoc())
	if bytes.Contains(probe, []byte(`"loads"`)) {
		t.Errorf("a probe document carries a loads key: %s", probe)
	}
}

// TestFaultLoadDocumentParse: a load document stays as strict as a probe document: cause words
// are known, a refusal has one and a load does not, keys are known.
func TestFaultLoadDocumentParse(t *testing.T) {
	good, _ := Encode(validLoadDoc())
	sub := func(old, new string) string {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("test data lacks %q", old)
		}
		return strings.Replace(string(good), old, new, 1)
	}
	tests := []struct {
		name, data, want string
	}{
		{"unknown cause", sub(`"cause":"helper_unknown"`, `"cause":"bad_luck"`), `unknown cause "bad_luck"`},
		{"refused without cause", sub(`"cause":"helper_unknown",`, ``), "refused without a cause"},
		{"loaded with cause", sub(`"loaded":true`, `"loaded":true,"cause":"map"`), `loaded but with cause "map"`},
		{"unknown load key", sub(`"program":"pass"`, `"program":"pass","colour":"red"`), `unknown field "colour"`},
		{"no program", sub(`"program":"pass"`, `"program":""`), "no object or program name"},
		{"no object hash", sub(`"object_sha256":"aa"`, `"object_sha256":""`), "no object sha256"},
		{"ok without release", sub(`"release":"5.10.0-35-cloud-amd64"`, `"release":""`), "no kernel release"},
		{"odd status", sub(`"status":"ok"`, `"status":"fine"`), `guest status "fine"`},
		{"no status", sub(`"status":"ok"`, `"status":""`), "no status"},
		{"results beside loads", sub(`"results":[]`, `"results":[{"helper_id":1,"helper":"map_lookup_elem","prog_type":"xdp","variant":"xdp","outcome":"supported"}]`), "both probe results and loads"},
		{"loaded not a bool", sub(`"loaded":true`, `"loaded":"yes"`), "cannot unmarshal string"},
		// An ok guest that loaded nothing is no answer: the probe's checks refuse it.
		{"ok with no loads", sub(`"loads":[`, `"x":[`), `unknown field "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("out/5.10.json", []byte(tt.data))
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "out/5.10.json") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v: want one naming out/5.10.json and saying %q", err, tt.want)
			}
		})
	}
	// A failed guest keeps what it loaded before it failed, and needs no release.
	failed := sub(`"status":"ok"`, `"status":"failed","error":"kernel: panic"`)
	failed = strings.Replace(failed, `"release":"5.10.0-35-cloud-amd64"`, `"release":""`, 1)
	if d, err := Parse("f", []byte(failed)); err != nil || d.OK() || len(d.Loads) != 2 {
		t.Fatalf("failed kernel with loads: %v", err)
	}
	// Every cause word is accepted.
	for _, c := range Causes {
		if _, err := Parse("c", []byte(sub(`"cause":"helper_unknown"`, `"cause":"`+string(c)+`"`))); err != nil {
			t.Errorf("cause %s: %v", c, err)
		}
	}
}
