//go:build bpfmatrix_agent

package registry

// embedded is nil in guest-agent builds: the agent probes ids and takes helper names from the
// kernel's BTF, so the table would only make the agent's hash follow registry edits.
var embedded []byte

// embeddedKfuncs is nil in guest-agent builds for the same reason.
var embeddedKfuncs []byte

// embeddedStructOps is nil in guest-agent builds for the same reason.
var embeddedStructOps []byte

// embeddedArchDiffs is nil in guest-agent builds for the same reason.
var embeddedArchDiffs []byte
