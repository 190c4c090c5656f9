package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"

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

// yamlError turns an error of the YAML parser into a LineError.
func yamlError(file string, data []byte, err error) *LineError {
	return &LineError{File: file, Msg: fmt.Sprintf("cannot parse YAML: %v", err)}
}
