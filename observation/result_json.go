package observation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"
)

// UnmarshalJSON decodes one result without reflection, as strictly as the document's decoder
// (an unknown key is an error, a value of the wrong JSON type too). Results are nearly all of a
// document (26,000 of them in a 7.3 document with kfuncs) and a registry check reads every
// kernel's document from the cache, so the generic decoder's per-field reflection was most of
// what `bpfmatrix verify NAME` cost on a warm cache. The caller (encoding/json) has already
// checked that data is one well-formed JSON value.
func (r *Result) UnmarshalJSON(data []byte) error {
	s := resultScanner{data: data}
	if s.null() {
		return nil
	}
	if err := s.object(r); err != nil {
		return err
	}
	return s.end()
}

// decodeResults decodes a JSON array of results (the document's "results" member) with the
// scanner below; unlike UnmarshalJSON, its input has not been checked by encoding/json, so the
// scanner checks the array's syntax itself.
func decodeResults(data []byte) ([]Result, error) {
	s := resultScanner{data: data}
	out, err := s.array()
	if err != nil {
		return nil, err
	}
	return out, s.end()
}

// array reads a JSON array of result objects, or null.
func (s *resultScanner) array() ([]Result, error) {
	if s.null() {
		return nil, nil
	}
	// Each result has one "outcome" key: counting them (a few more, if the rest of the
	// document has such keys) sizes the slice once.
	out := make([]Result, 0, bytes.Count(s.data[s.pos:], []byte(`"outcome"`)))
	err := s.list('[', ']', func() error {
		var r Result
		if err := s.object(&r); err != nil {
			return fmt.Errorf("result %d: %w", len(out)+1, err)
		}
		out = append(out, r)
		return nil
	}, func() string { return fmt.Sprintf("result %d", len(out)) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// list reads the elements of a JSON array or the members of an object, between open and
// close, with item, which reads one; after names the one just read when neither a comma nor
// close follows it.
func (s *resultScanner) list(open, close byte, item func() error, after func() string) error {
	if err := s.expect(open); err != nil {
		return err
	}
	if s.peek() == close {
		s.pos++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case close:
			s.pos++
			return nil
		default:
			return s.errorf("want , or %c after %s", close, after())
		}
	}
}

// resultScanner reads the members of one result object from data, position pos.
type resultScanner struct {
	data []byte
	pos  int
}

func (s *resultScanner) errorf(format string, args ...any) error {
	if s.pos >= len(s.data) {
		// The document's own wording for a cut file, wherever the cut falls.
		return fmt.Errorf("JSON cut off after %d bytes", len(s.data))
	}
	return fmt.Errorf("result at byte %d: %s", s.pos, fmt.Sprintf(format, args...))
}

// peek skips white space and returns the next byte, or 0 at the end.
func (s *resultScanner) peek() byte {
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; c {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return c
		}
	}
	return 0
}

func (s *resultScanner) expect(c byte) error {
	if s.peek() != c {
		return s.errorf("want %q", c)
	}
	s.pos++
	return nil
}

// object reads one result object into r; r is left as it was when the object is malformed.
func (s *resultScanner) object(r *Result) error {
	var out Result
	var key string
	err := s.list('{', '}', func() error {
		var err error
		if key, err = s.str(); err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		return s.field(&out, key)
	}, func() string { return fmt.Sprintf("the value of %q", key) })
	if err != nil {
		return err
	}
	*r = out
	return nil
}

// end checks that nothing but white space follows the value just read.
func (s *resultScanner) end() error {
	// Not peek's 0, which a NUL byte after the value would return too.
	if s.peek(); s.pos < len(s.data) {
		return s.errorf("unexpected %q after the value", s.data[s.pos])
	}
	return nil
}

// null consumes a JSON null, which leaves a Go value unchanged.
func (s *resultScanner) null() bool {
	if s.peek() == 'n' && len(s.data)-s.pos >= 4 && string(s.data[s.pos:s.pos+4]) == "null" {
		s.pos += 4
		return true
	}
	return false
}

// stringMember returns the field that the string member key of a result fills, nil when key
// is not one. A table of pointers rather than of functions, so that decoding a result does not
// move it to the heap.
func (r *Result) stringMember(key string) *string {
	members := [...]struct {
		key string
		dst *string
	}{
		{"kfunc", &r.Kfunc},
		{"helper", &r.Helper},
		{"prog_type", &r.ProgType},
		{"variant", &r.Variant},
		{"outcome", (*string)(&r.Outcome)},
		{"detail", &r.Detail},
		{"log", &r.Log},
		{"flags", &r.Flags},
		{"from", &r.From},
		{"like", &r.Like},
	}
	for _, m := range members {
		if m.key == key {
			return m.dst
		}
	}
	return nil
}

// field stores the value of member key in r.
func (s *resultScanner) field(r *Result, key string) error {
	if key == "helper_id" {
		return s.int(&r.HelperID)
	}
	dst := r.stringMember(key)
	if dst == nil {
		// The document decoder's DisallowUnknownFields wording, so messages read the same.
		return fmt.Errorf("json: unknown field %q", key)
	}
	if s.null() {
		return nil
	}
	v, err := s.str()
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	*dst = v
	return nil
}

// int reads a JSON number into an int; fractions and exponents are refused, as the generic
// decoder refuses them for an int field.
func (s *resultScanner) int(dst *int) error {
	if s.null() {
		return nil
	}
	start := s.pos
	for s.pos < len(s.data) && (s.data[s.pos] == '-' || s.data[s.pos] >= '0' && s.data[s.pos] <= '9') {
		s.pos++
	}
	n, err := strconv.Atoi(string(s.data[start:s.pos]))
	if err != nil || s.pos < len(s.data) && (s.data[s.pos] == '.' || s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		return s.errorf("helper_id is not an integer")
	}
	*dst = n
	return nil
}

// str reads a JSON string. The common case, no escapes, is a slice of data; escaped strings go
// through encoding/json, which knows every escape JSON allows.
func (s *resultScanner) str() (string, error) {
	if s.peek() != '"' {
		return "", s.errorf("want a string")
	}
	start := s.pos
	s.pos++
	escaped, nonASCII := false, false
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; {
		case c < 0x20:
			return "", s.errorf("control character in a string")
		case c >= 0x80:
			nonASCII = true
		case c == '\\':
			escaped = true
			s.pos += 2
			continue
		case c == '"':
			s.pos++
			raw := s.data[start+1 : s.pos-1]
			// encoding/json turns each byte of invalid UTF-8 into U+FFFD; so must this path,
			// or a document would read differently here than through the generic decoder.
			if !escaped && (!nonASCII || utf8.Valid(raw)) {
				return internResult(raw), nil
			}
			var v string
			if err := json.Unmarshal(s.data[start:s.pos], &v); err != nil {
				return "", s.errorf("%v", err)
			}
			return v, nil
		}
		s.pos++
	}
	return "", s.errorf("unterminated string")
}

// internResult returns b as a string, sharing the short words every result repeats (program
// types, variants, outcomes, helper and kfunc names) instead of allocating them 26,000 times per
// document. The table stops growing at maxResultWords: past that, strings are plain copies.
func internResult(b []byte) string {
	if len(b) > 40 {
		return string(b)
	}
	resultWords.RLock()
	v, ok := resultWords.m[string(b)]
	resultWords.RUnlock()
	if ok {
		return v
	}
	v = string(b)
	resultWords.Lock()
	if len(resultWords.m) < maxResultWords {
		resultWords.m[v] = v
	}
	resultWords.Unlock()
	return v
}

// maxResultWords bounds the intern table: a few thousand words cover every kernel's names.
const maxResultWords = 8192

var resultWords = struct {
	sync.RWMutex
	m map[string]string
}{m: map[string]string{}}

// cutResults decodes the value of data's top-level "results" member (data is a document's JSON
// object) and returns data with that value replaced by null, for the strict generic decoder to
// read the rest (a few hundred KB). The other members are walked by syntax only here; the
// generic decoder checks them. found is false when there is no "results" member.
func cutResults(data []byte) (rest []byte, results []Result, found bool, err error) {
	pos := 1 // past '{'
	for {
		pos = skipSpace(data, pos)
		if pos >= len(data) || data[pos] == '}' {
			return data, results, found, nil
		}
		if data[pos] == ',' {
			pos++
			continue
		}
		keyStart := pos
		if pos, err = skipJSON(data, pos); err != nil {
			return nil, nil, false, err
		}
		key := data[keyStart:pos]
		pos = skipSpace(data, pos)
		if pos >= len(data) || data[pos] != ':' {
			return nil, nil, false, fmt.Errorf("invalid JSON at byte %d: want : after a key", pos)
		}
		valueStart := skipSpace(data, pos+1)
		if string(key) != `"results"` {
			if pos, err = skipJSON(data, valueStart); err != nil {
				return nil, nil, false, err
			}
			continue
		}
		if found {
			return nil, nil, false, fmt.Errorf("invalid JSON at byte %d: a second \"results\" member", keyStart)
		}
		found = true
		s := resultScanner{data: data, pos: valueStart}
		if results, err = s.array(); err != nil {
			return nil, nil, false, fmt.Errorf("results: %w", err)
		}
		rest = make([]byte, 0, len(data)-(s.pos-valueStart)+4)
		rest = append(append(append(rest, data[:valueStart]...), "null"...), data[s.pos:]...)
		data, pos = rest, valueStart+4
	}
}

func skipSpace(data []byte, pos int) int {
	for pos < len(data) && (data[pos] == ' ' || data[pos] == '\t' || data[pos] == '\n' || data[pos] == '\r') {
		pos++
	}
	return pos
}

// skipJSON returns the position just after the JSON value that starts at pos, judging by its
// brackets, strings and delimiters only.
func skipJSON(data []byte, pos int) (int, error) {
	depth := 0
	for pos < len(data) {
		switch data[pos] {
		case '"':
			pos++
			for pos < len(data) && data[pos] != '"' {
				if data[pos] == '\\' {
					pos++
				}
				pos++
			}
			if pos >= len(data) {
				return 0, errors.New("JSON cut off inside a string")
			}
			pos++
		case '{', '[':
			depth++
			pos++
		case '}', ']':
			if depth == 0 {
				return pos, nil
			}
			depth--
			pos++
		case ',', ' ', '\t', '\n', '\r', ':':
			if depth == 0 {
				return pos, nil
			}
			pos++
		default:
			pos++
		}
		if depth == 0 && pos > 0 && (data[pos-1] == '"' || data[pos-1] == '}' || data[pos-1] == ']') {
			return pos, nil
		}
	}
	if depth > 0 {
		return 0, errors.New("JSON cut off inside an object or array")
	}
	return pos, nil
}
