package main

// This file is a placeholder: part B of issue 19 replaces it with the booted path (observe.Load
// behind bootLoads). Until then `bpfmatrix load` answers with --static only.

import (
	"context"
	"errors"
	"io"
)

// loadInput is one object a load run puts in the guests: its path on the host, its name in the
// guest and its SHA-256.
type loadInput struct{ Path, Name, SHA256 string }

// bootLoads boots kernels and loads objs in each; here it only says that booting is not wired.
func bootLoads(ctx context.Context, g *guestFlags, kernels []string, objs []loadInput, set []string, attach bool, stderr io.Writer) ([]bootedKernel, error) {
	return nil, errors.New("booting kernels for load is not wired in this build; use --static for the registries' answers")
}
