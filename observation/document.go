package observation

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
)

// SchemaVersion is the version of the document this package writes. A document without a
// "schema" key is version 1 (the observations recorded before the key existed); a reader
// refuses a newer version rather than misread it.
const SchemaVersion = 1

// Document is one kernel's observations: the probe's facts and results and, for a kernel
// booted in a guest, the guest block. `bpfmatrix run` writes one per kernel (DIR/<name>.json),
// the observation cache stores them, and verdicts and reports are computed from them.
type Document struct {
	// Schema is SchemaVersion when written by this package.
	Schema int `json:"schema,omitempty"`
	Facts
	// Results holds one answer per (helper, variant), in variant order and then id order,
	// then the kfunc pass's answers (Result.Kfunc set): one per (kfunc, variant) the pass
	// loaded, in variant order and then kfunc name order.
	Results []Result `json:"results"`
	// Loads holds a load run's answers (`bpfmatrix load`): one per (object, program), in the
	// order the guest loaded them. A document has results or loads, never both.
	Loads []ProgramLoad `json:"loads,omitempty"`
	// Guest says how the kernel's guest ran; nil for a probe of the host's own kernel.
	Guest *Guest `json:"guest,omitempty"`
}

// OK reports whether the document comes from a guest that delivered a complete stream. A
// host probe, which has no guest, is OK.
func (d *Document) OK() bool { return d.Guest == nil || d.Guest.Status == StatusOK }

// Encode returns the document as compact JSON, the form that is written to files and hashed
// by Checksum. Results is written as an empty array rather than null.
func Encode(d *Document) ([]byte, error) {
	c := *d
	c.Schema = SchemaVersion
	if c.Results == nil {
		c.Results = []Result{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Verifier lines quote "<" and ">" (R1 type=ptr_<...>): keep them readable in the files.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("observation: encode: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Checksum returns the hex SHA-256 of an encoded document; stores keep it beside the document
// so that a truncated or edited copy is detected rather than believed.
func Checksum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// ErrInvalid is wrapped by every error of Parse and ReadFile about the content of a document
// (as opposed to an error reading it).
var ErrInvalid = errors.New("not a kernel observation document")

// Parse reads one kernel's document from data; source names where data came from (a path) and
// starts every error. It is strict: data must be one JSON object with the keys of Document
// and no others, of a schema version this package knows, with a guest block whose status is
// ok or failed, and a guest that is ok must carry the kernel's release, its program types and
// results whose outcomes are known words, or, for a load run, loads whose cause words are known.
// So `{}`, `null`, a cut file or another kind of JSON
// file is an error, never an "ok" kernel with no results.
func Parse(source string, data []byte) (*Document, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", source, ErrInvalid, fmt.Sprintf(format, args...))
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, bad("empty file")
	}
	if trimmed[0] != '{' {
		return nil, bad("want a JSON object, file starts with %q", firstBytes(trimmed, 20))
	}
	rest, results, _, err := cutResults(trimmed)
	if err != nil {
		return nil, bad("%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(rest))
	dec.DisallowUnknownFields()
	var d Document
	if err := dec.Decode(&d); err != nil {
		return nil, bad("%v", jsonError(err, trimmed))
	}
	if dec.More() {
		return nil, bad("more than one JSON value")
	}
	d.Results = results
	if err := d.check(); err != nil {
		return nil, bad("%v", err)
	}
	return &d, nil
}

func (d *Document) check() error {
	switch {
	case d.Schema > SchemaVersion:
		return fmt.Errorf("schema %d is newer than this bpfmatrix reads (%d)", d.Schema, SchemaVersion)
	case d.Schema < 0:
		return fmt.Errorf("schema %d", d.Schema)
	case d.Guest == nil:
		return errors.New("no guest block")
	}
	if d.Guest.Arch != "" {
		if _, err := ParseArch(string(d.Guest.Arch)); err != nil {
			return fmt.Errorf("guest block: %v", err)
		}
	}
	if len(d.Loads) > 0 {
		return d.checkLoads()
	}
	switch d.Guest.Status {
	case StatusOK:
	case StatusFailed:
		return nil
	case "":
		return errors.New("guest block has no status")
	default:
		return fmt.Errorf("guest status %q (want %q or %q)", d.Guest.Status, StatusOK, StatusFailed)
	}
	switch {
	case d.Kernel.Release == "":
		return errors.New("guest ok but no kernel release")
	case len(d.ProgTypes) == 0:
		return errors.New("guest ok but no program types")
	case len(d.Results) == 0:
		return errors.New("guest ok but no results")
	}
	for i, r := range d.Results {
		if !r.Outcome.Valid() {
			return fmt.Errorf("result %d (helper %d, %s): unknown outcome %q", i, r.HelperID, r.Variant, r.Outcome)
		}
	}
	return nil
}

// ReadFile reads and parses one document. A name ending in .gz is gunzipped first (recorded
// observations are kept so). Anything but a regular file of at most files.Observation's bytes
// (packed or unpacked) is refused, so that a FIFO or a device cannot block or flood the reader.
func ReadFile(path string) (*Document, error) {
	data, err := files.ReadRegular(path, files.Observation)
	if errors.Is(err, files.ErrRefused) {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".gz") {
		if data, err = gunzip(path, data); err != nil {
			return nil, err
		}
	}
	return Parse(path, data)
}

// gunzip unpacks a gzipped document, to at most files.Observation's bytes: a small file must
// not unpack into the machine's memory.
func gunzip(path string, data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: gzip: %v", path, ErrInvalid, err)
	}
	max := files.Observation.Max
	if data, err = io.ReadAll(io.LimitReader(zr, max+1)); err != nil {
		return nil, fmt.Errorf("%s: %w: gzip: %v", path, ErrInvalid, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: %w: unpacks to more than %d MiB", path, ErrInvalid, max>>20)
	}
	return data, nil
}

// jsonError turns a decoding error into a sentence with the byte offset where the document
// stopped making sense: a cut file says "unexpected end" at its last byte.
func jsonError(err error, data []byte) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d of %d: %v", se.Offset, len(data), err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Sprintf("JSON cut off after %d bytes", len(data))
	}
	return err.Error()
}

func firstBytes(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
