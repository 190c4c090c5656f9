// Package bpfmatrix carries the files of the repository's root that the tool needs at run time,
// so that an installed bpfmatrix (go install, no source tree) works in any directory: the
// kernels it boots (kernels.yaml) and the exact builds they are pinned to (kernels.lock). The
// code lives in the packages below; vmimages reads these files as its built-in kernels file.
package bpfmatrix

import _ "embed"

// KernelsYAML is the repository's kernels.yaml as it was when the binary was built. It is a
// string, not a byte slice, so that no importer can change the pins every other one reads.
//
//go:embed kernels.yaml
var KernelsYAML string

// KernelsLock is the kernels.lock that pins KernelsYAML's entries, from the same build. It is
// read, never written: moving pins needs a kernels file on disk (`kernels fetch --update`).
//
//go:embed kernels.lock
var KernelsLock string
