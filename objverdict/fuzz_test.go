package objverdict

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// FuzzReport renders answers whose names and reasons are any text (a guest's reason and an
// object's names come from outside): the JSON and the JUnit XML must read back, and every
// program must get a summary.
func FuzzReport(f *testing.F) {
	f.Add("a.o", "prog", "xdp", "5.10", "7.3", "helper_unknown", "invalid func unknown#181", true)
	f.Add("x|y.o", "p\nq", "kprobe/<f>", "6.1", "6.1", "unknown", "\x00\x1b[31m\xff", false)
	f.Fuzz(func(t *testing.T, object, program, section, k1, k2, cause, reason string, loaded bool) {
		answers := []Answer{
			{Object: object, Program: program, Section: section, Kernel: k1, Loaded: loaded, Cause: observation.Cause(cause), Reason: reason},
			{Object: object, Program: program, Section: section, Kernel: k2, Cause: observation.Cause(cause), Reason: reason, Log: reason},
		}
		r := NewReport([]string{k1, k2}, answers)
		if len(r.Programs) == 0 || r.Programs[0].Summary == "" {
			t.Fatalf("no summary: %+v", r.Programs)
		}
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b.Bytes(), new(Report)); err != nil {
			t.Fatalf("JSON does not read back: %v", err)
		}
		b.Reset()
		if err := r.WriteJUnit(&b); err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(b.Bytes(), new(junitSuites)); err != nil {
			t.Fatalf("JUnit does not read back: %v\n%s", err, b.String())
		}
		b.Reset()
		if err := r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
	})
}
