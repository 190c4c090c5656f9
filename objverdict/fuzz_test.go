package objverdict

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"strings"
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

// FuzzParseReport reads any bytes as a load.json: either an error naming the input, or a
// report whose JSON reads back as the same report (what ReadReport accepts, report shows).
func FuzzParseReport(f *testing.F) {
	if golden, err := os.ReadFile(goldenJSON); err == nil {
		f.Add(golden)
	}
	f.Add([]byte(`{"kernels":["5.10"],"loads":[{"object":"a.o","program":"p","kernel":"5.10","loaded":false,"cause":"map","reason":"r"}],"programs":[{"object":"a.o","program":"p","loads_on":[]}]}`))
	f.Add([]byte(`{"kernels":[],"loads":[],"programs":[]}`))
	f.Add([]byte(`{"Kernels":["x"],"loads":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReport("in.json", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "in.json") {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		var b1, b2 bytes.Buffer
		if err := r.WriteJSON(&b1); err != nil {
			t.Fatal(err)
		}
		again, err := ParseReport("again.json", b1.Bytes())
		if err != nil {
			t.Fatalf("an accepted report does not read back: %v\n%s", err, b1.String())
		}
		if err := again.WriteJSON(&b2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
			t.Fatalf("read back differently:\n%s\n%s", b1.String(), b2.String())
		}
	})
}
