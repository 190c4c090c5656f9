package registry

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// multiDocMsg is the error for a file that holds more than one YAML document. yaml.Unmarshal
// reads only the first, so without this check a stray --- would hide every entry after it.
const multiDocMsg = "a second YAML document starts here: a registry file is one document (remove the --- line)"

// document parses data as exactly one YAML document and returns its root node. An empty file,
// a file that is not YAML and a file of several documents are errors naming the file.
func document(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) || err == nil && (doc.Kind != yaml.DocumentNode || len(doc.Content) != 1) {
		return nil, &LineError{File: file, Msg: "empty file: want a YAML sequence of helper entries"}
	}
	if err != nil {
		return nil, yamlError(file, data, err)
	}
	root := doc.Content[0]
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
		return root, nil
	case err == nil:
		return nil, &LineError{File: file, Line: next.Line, Msg: multiDocMsg}
	default:
		// The second document does not parse either; its --- line is still the first thing to fix.
		perr := yamlError(file, data, err)
		if line := documentMarker(data, root.Line); line > 0 {
			return nil, errors.Join(&LineError{File: file, Line: line, Msg: multiDocMsg}, perr)
		}
		return nil, perr
	}
}

// documentMarker returns the number of the first line after line after that starts a YAML
// document ("---" in the first column, alone or followed by a space or tab), or 0. A "---" in
// the first column cannot be part of a scalar, so no content is mistaken for one.
func documentMarker(data []byte, after int) int {
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if i+1 > after && bytes.HasPrefix(line, []byte("---")) && (len(line) == 3 || line[3] == ' ' || line[3] == '\t') {
			return i + 1
		}
	}
	return 0
}

// yamlError turns an error of the YAML parser into a LineError with the line of the problem.
// go-yaml writes "line N: " only when the problem is past the first line, counts the lines of
// parser (not scanner) errors from 0, and gives no line at all for bad bytes or unknown aliases;
// the README promises file:line for every problem, so the line is worked out here.
func yamlError(file string, data []byte, err error) *LineError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if yamlParserProblems[msg] {
			line++
		}
	} else if l := locateYAMLProblem(data, msg); l > 0 {
		line = l
	}
	// A problem found at the end of the input is reported on the line after the last one.
	line = min(line, max(1, lineCount(data)))
	return &LineError{File: file, Line: line, Msg: "cannot parse YAML: " + msg}
}

var (
	yamlLineRE   = regexp.MustCompile(`^line ([0-9]+): (.*)$`)
	yamlAliasRE  = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
	yamlAnchorRE = regexp.MustCompile(`^anchor '(.*)' value contains itself$`)
)

// yamlParserProblems are the messages of go-yaml's parser stage (parserc.go), whose line numbers
// it reports counted from 0. Its scanner's messages are counted from 1.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// locateYAMLProblem finds the line of a go-yaml error that carries none: a byte YAML does not
// allow (the reader's errors), an alias without its anchor, an anchor inside its own value. It
// returns 0 when it cannot tell; the scanner and parser leave the line out only for line 1.
func locateYAMLProblem(data []byte, msg string) int {
	if m := yamlAliasRE.FindStringSubmatch(msg); m != nil {
		return lineOfToken(data, "*"+m[1])
	}
	if m := yamlAnchorRE.FindStringSubmatch(msg); m != nil {
		return lineOfToken(data, "&"+m[1])
	}
	for off := 0; off < len(data); {
		r, size := utf8.DecodeRune(data[off:])
		if r == utf8.RuneError && size <= 1 || !yamlPrintable(r) {
			return 1 + bytes.Count(data[:off], []byte("\n"))
		}
		off += size
	}
	return 0
}

// yamlPrintable reports whether YAML allows r in a stream (YAML 1.1, section 5.1, as go-yaml
// checks it).
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r >= 0x20 && r <= 0x7e, r == 0x85:
		return true
	case r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}

// lineOfToken returns the line of the first occurrence of an alias or anchor token (tok followed
// by a character that cannot continue its name), or 0.
func lineOfToken(data []byte, tok string) int {
	for i, line := range bytes.Split(data, []byte("\n")) {
		for rest := line; ; {
			j := bytes.Index(rest, []byte(tok))
			if j < 0 {
				break
			}
			rest = rest[j+len(tok):]
			if len(rest) == 0 || bytes.IndexByte([]byte(" \t\r,[]{}"), rest[0]) >= 0 {
				return i + 1
			}
		}
	}
	return 0
}

// lineCount returns the number of lines in data; a last line without a newline counts.
func lineCount(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}
