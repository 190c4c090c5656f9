//go:build !bpfmatrix_agent

package registry

import _ "embed"

//go:embed helpers.yaml
var embedded []byte

//go:embed archdiffs.yaml
var embeddedArchDiffs []byte
