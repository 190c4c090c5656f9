//go:build !bpfmatrix_agent

package registry

import _ "embed"

//go:embed kfuncs.yaml
var embeddedKfuncs []byte
