package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

type rec struct {
	HelperID int    `json:"helper_id"`
	Outcome  string `json:"outcome"`
}

// stream writes a complete stream of n results and returns its bytes.
func stream(t *testing.T, n int, compress bool, fail string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, compress)
	must(t, w.Hello(Hello{Uptime: 1.5, Kernel: "6.12.117+deb13-cloud-amd64"}))
	must(t, w.Header(map[string]any{"kernel": map[string]string{"release": "6.12.117+deb13-cloud-amd64"}}))
	for i := 1; i <= n; i++ {
		must(t, w.Result(rec{HelperID: i, Outcome: "supported"}))
	}
	if fail != "" {
		must(t, w.Error(fail))
	}
	must(t, w.Close())
	return buf.Bytes()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		compress bool
		fail     string
	}{
		{"plain", 50, false, ""},
		{"gzip", 50, true, ""},
		{"empty plain", 0, false, ""},
		{"empty gzip", 0, true, ""},
		{"probe error", 3, true, "probe: no BTF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := stream(t, tt.n, tt.compress, tt.fail)
			if got := len(b) > 1 && b[0] == 0x1f && b[1] == 0x8b; got != tt.compress {
				t.Fatalf("gzip magic present = %v, want %v", got, tt.compress)
			}
			var events []string
			s, err := Read(bytes.NewReader(b), Events{
				Hello:  func(h Hello) { events = append(events, "hello "+h.Kernel) },
				Header: func() { events = append(events, "header") },
				Result: func(n int) { events = append(events, fmt.Sprint(n)) },
			})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(s.Results) != tt.n || s.Trailer.Count != tt.n {
				t.Fatalf("results %d, trailer %d, want %d", len(s.Results), s.Trailer.Count, tt.n)
			}
			for i, r := range s.Results {
				var got rec
				must(t, json.Unmarshal(r, &got))
				if got.HelperID != i+1 {
					t.Fatalf("result %d has helper_id %d", i, got.HelperID)
				}
			}
			if s.Error != tt.fail {
				t.Fatalf("error line %q, want %q", s.Error, tt.fail)
			}
			if s.Bytes != int64(len(b)) && !tt.compress {
				t.Fatalf("Bytes = %d, want %d", s.Bytes, len(b))
			}
			if len(events) != tt.n+2 || events[0] != "hello 6.12.117+deb13-cloud-amd64" || events[1] != "header" {
				t.Fatalf("events %v", events)
			}
		})
	}
}

// TestTruncation cuts complete streams at every length: every cut must be reported as
// truncated, and the results that arrived whole before the cut must be kept.
func TestTruncation(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			full := stream(t, 20, compress, "")
			lastKept := 0
			for cut := 0; cut < len(full); cut++ {
				s, err := Read(bytes.NewReader(full[:cut]), Events{})
				if err == nil && compress && s.Trailer != nil && len(s.Results) == 20 {
					// Only gzip's own footer is missing: every line arrived and checked out.
					continue
				}
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("cut at %d of %d: err = %v, want ErrTruncated", cut, len(full), err)
				}
				if s.Trailer != nil {
					t.Fatalf("cut at %d: trailer decoded from a cut stream", cut)
				}
				if len(s.Results) < lastKept {
					t.Fatalf("cut at %d kept %d results, a shorter cut kept %d", cut, len(s.Results), lastKept)
				}
				lastKept = len(s.Results)
			}
			if !compress && lastKept != 20 {
				t.Fatalf("a cut just before the trailer kept %d results, want 20", lastKept)
			}
		})
	}
}

// TestFlushKeepsResults checks that results written before a cut of a stream survive once the
// writer flushed them, compressed or not (both are buffered), which is what the agent's
// periodic flush relies on.
func TestFlushKeepsResults(t *testing.T) {
	for _, compress := range []bool{true, false} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf, compress)
			must(t, w.Hello(Hello{}))
			must(t, w.Header(map[string]any{}))
			for i := 1; i <= 10; i++ {
				must(t, w.Result(rec{HelperID: i}))
			}
			must(t, w.Flush())
			s, err := Read(bytes.NewReader(buf.Bytes()), Events{})
			if !errors.Is(err, ErrTruncated) || len(s.Results) != 10 {
				t.Fatalf("got %d results, err %v; want 10 and ErrTruncated", len(s.Results), err)
			}
		})
	}
}

func TestCorrupt(t *testing.T) {
	full := string(stream(t, 5, false, ""))
	lines := strings.SplitAfter(full, "\n")
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"result dropped", strings.Join(append(append([]string{}, lines[:3]...), lines[4:]...), ""), "trailer counts 5 results, received 4"},
		{"result changed", strings.Replace(full, `"helper_id":3`, `"helper_id":4`, 1), "checksum mismatch"},
		{"garbage line", lines[0] + lines[1] + "not json\n" + strings.Join(lines[2:], ""), "bad line after 0 results"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.in), Events{})
			if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrTruncated mentioning %q", err, tt.want)
			}
		})
	}
}

func TestHeaderMustBeObject(t *testing.T) {
	w := NewWriter(&bytes.Buffer{}, false)
	if err := w.Header([]int{1}); err == nil {
		t.Fatal("a JSON array was accepted as header")
	}
}

// TestResultLineIsEncodedLine holds the hand-built result line to what encoding the line
// struct gives, for values whose strings need escaping and for one that encodes itself.
func TestResultLineIsEncodedLine(t *testing.T) {
	tests := []any{
		rec{HelperID: 1, Outcome: "supported"},
		observation.Result{HelperID: 5, Helper: "ktime_get_ns", ProgType: "xdp", Variant: "xdp", Outcome: observation.Supported, Detail: "R1 <ctx> & more"},
		map[string]string{"log": "R1 type=<ctx> expected=fp & \"quoted\"\n\tnext\u2028"},
		[]int{1, 2, 3},
		"plain",
	}
	for _, v := range tests {
		var got bytes.Buffer
		w := NewWriter(&got, false)
		must(t, w.Result(v))
		must(t, w.Flush())
		b, err := json.Marshal(v)
		must(t, err)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		must(t, enc.Encode(&line{Result: b}))
		if got.String() != want.String() {
			t.Errorf("%#v:\n got %q\nwant %q", v, got.String(), want.String())
		}
	}
}
