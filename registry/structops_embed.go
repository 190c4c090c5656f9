//go:build !bpfmatrix_agent

package registry

import _ "embed"

//go:embed structops.yaml
var embeddedStructOps []byte
