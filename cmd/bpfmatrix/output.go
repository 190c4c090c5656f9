package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkedOutput is a command's standard output. It keeps the first failed write: an answer that
// never reached its reader (`helpers list > /dev/full`) is a failed command, not a success, and
// dispatch says so once for every command.
type checkedOutput struct {
	w   io.Writer
	err *outputError
}

// outputError is a failed write of a command's output.
type outputError struct{ err error }

func (e *outputError) Error() string { return "writing the output: " + e.err.Error() }

func (e *outputError) Unwrap() error { return e.err }

func (o *checkedOutput) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if err != nil {
		o.err = &outputError{err}
		return n, o.err
	}
	return n, nil
}

// Fd is the file descriptor of the output when it is a file (-1 otherwise), so that commands
// can still ask whether their output is a terminal.
func (o *checkedOutput) Fd() uintptr {
	if f, ok := o.w.(interface{ Fd() uintptr }); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}

// escapeControls returns a writer that escapes on the way to w every control character but
// newline and tab, and bytes that are not UTF-8. Registry text may come from another library's
// file (--registry): a description holding ESC sequences must not retitle the terminal, move
// the cursor or hide lines, so it is shown as \x1b. JSON output is escaped by writeJSON.
func escapeControls(w io.Writer) io.Writer { return controlEscaper{w} }

type controlEscaper struct{ w io.Writer }

func (c controlEscaper) Write(p []byte) (int, error) {
	if !needsEscape(p) {
		return c.w.Write(p)
	}
	n := len(p)
	var b strings.Builder
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, p[0])
		case escaped(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case escaped(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.Write(p[:size])
		}
		p = p[size:]
	}
	if _, err := io.WriteString(c.w, b.String()); err != nil {
		return 0, err
	}
	return n, nil
}

// needsEscape reports whether p holds anything controlEscaper rewrites.
func needsEscape(p []byte) bool {
	if !utf8.Valid(p) {
		return true
	}
	for _, r := range string(p) {
		if escaped(r) {
			return true
		}
	}
	return false
}

// escaped reports whether r is a character a terminal may act on rather than show: C0 and C1
// controls (but newline and tab, which tables and descriptions use) and the bidirectional
// overrides that reorder what is shown.
func escaped(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// writeJSON writes v as indented JSON. The encoder escapes C0 controls but passes C1 controls
// (U+009B opens a terminal control sequence as ESC [ does) and bidirectional overrides through:
// those are written as \u escapes too, which JSON readers decode to the same text. A failed
// write is said by dispatch, any other encoding error here.
func writeJSON(stdout, stderr io.Writer, v any) int {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "bpfmatrix: %v\n", err)
		return exitNo
	}
	data := buf.Bytes()
	if needsEscape(data) {
		var b strings.Builder
		for _, r := range string(data) {
			if escaped(r) {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
		data = []byte(b.String())
	}
	if _, err := stdout.Write(data); err != nil {
		return exitNo // said by dispatch
	}
	return exitOK
}

// oneLine joins a multi-line error (the loader reports every problem it finds) so that the
// first line names the file and the rest stay readable.
func oneLine(err error) string {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%s (and %d more problem(s):\n  %s)", lines[0], len(lines)-1, strings.Join(lines[1:], "\n  "))
}

// abbreviate cuts s to n bytes, marking the cut with "...".
func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
