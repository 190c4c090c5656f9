package objverdict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// maxReportBytes bounds a load.json read back: a hundred objects of ten programs on eleven
// kernels stay far below it, and a file that is not one is refused before it fills memory.
const maxReportBytes = 256 << 20

// ReadReport reads a load.json that `bpfmatrix load --out` wrote, strictly: unknown keys, a
// missing top-level key, a cause that is not a cause word, a refusal without a cause or a load
// with one, a kernel the report does not list, a repeated answer and summaries that do not match
// the answers are errors naming the file (and the line, where the JSON itself is broken).
func ReadReport(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxReportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxReportBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB: not a load.json", path, maxReportBytes>>20)
	}
	return ParseReport(path, data)
}

// ParseReport decodes and checks a load.json's bytes as ReadReport does; name names them in
// errors.
func ParseReport(name string, data []byte) (*Report, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, lineAt(data, errOffset(err, dec)), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s:%d: more than one JSON value", name, lineAt(data, dec.InputOffset()))
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &r, nil
}

// errOffset is where in the input a decoding error was found: the error's own offset when it
// has one, else how far the decoder read.
func errOffset(err error, dec *json.Decoder) int64 {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return syn.Offset
	case errors.As(err, &typ):
		return typ.Offset
	}
	return dec.InputOffset()
}

// lineAt is the 1-based line of the byte at offset.
func lineAt(data []byte, offset int64) int {
	offset = min(max(offset, 0), int64(len(data)))
	return 1 + bytes.Count(data[:offset], []byte("\n"))
}

// check holds a decoded report to what NewReport makes: the lists present, every answer's
// kernel listed once, a cause word exactly on every refusal, one answer per program and kernel
// and one summary per program.
func (r *Report) check() error {
	if r.Kernels == nil || r.Loads == nil || r.Programs == nil {
		return errors.New(`want the keys "kernels", "loads" and "programs"`)
	}
	for i, k := range r.Kernels {
		if k == "" || slices.Index(r.Kernels, k) != i {
			return fmt.Errorf("kernels[%d]: empty or repeated kernel %q", i, k)
		}
	}
	type key struct{ object, program, section string }
	answered := map[key]bool{}
	seen := map[key]map[string]bool{}
	for i, a := range r.Loads {
		if err := r.checkAnswer(a); err != nil {
			return fmt.Errorf("loads[%d] (%s %s on %s): %w", i, a.Object, a.Program, a.Kernel, err)
		}
		k := key{a.Object, a.Program, a.Section}
		if seen[k] == nil {
			seen[k] = map[string]bool{}
		}
		if seen[k][a.Kernel] {
			return fmt.Errorf("loads[%d]: a second answer for %s %s on %s", i, a.Object, a.Program, a.Kernel)
		}
		seen[k][a.Kernel] = true
	}
	for i, p := range r.Programs {
		k := key{p.Object, p.Program, p.Section}
		switch {
		case seen[k] == nil:
			return fmt.Errorf("programs[%d]: %s %s (%s) has no answer in loads", i, p.Object, p.Program, p.Section)
		case answered[k]:
			return fmt.Errorf("programs[%d]: a second summary of %s %s", i, p.Object, p.Program)
		}
		answered[k] = true
		for _, kernel := range p.LoadsOn {
			if !seen[k][kernel] {
				return fmt.Errorf("programs[%d]: %s %s loads on %q, which has no answer for it", i, p.Object, p.Program, kernel)
			}
		}
	}
	if len(answered) != len(seen) {
		return fmt.Errorf("%d programs answered in loads, %d summarized in programs", len(seen), len(answered))
	}
	return nil
}

// checkAnswer checks one answer of the report on its own.
func (r *Report) checkAnswer(a Answer) error {
	switch {
	case a.Object == "" || a.Program == "":
		return errors.New(`empty "object" or "program"`)
	case !slices.Contains(r.Kernels, a.Kernel):
		return fmt.Errorf("kernel %q is not one of the report's kernels %v", a.Kernel, r.Kernels)
	}
	return a.Cause.CheckFor(a.Loaded)
}
