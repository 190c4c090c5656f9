package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/proposal"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// kfuncs sync also proposes the struct_ops table (registry/structops.yaml): the kinds and
// members the kernels register come from the same observations as the kfuncs, and a question
// about a kfunc is where a struct_ops member is named.

// defaultStructOpsFile is the file kfuncs sync --write writes in a source checkout when
// --structops is not given.
var defaultStructOpsFile = filepath.Join("registry", "structops.yaml")

// structOpsResult is what sync made of the struct_ops table.
type structOpsResult struct {
	line    string // the text output's line
	written string // the file written, "" for none
}

// syncStructOps proposes the struct_ops table from kernels, starting from the one in path (the
// built-in one when path is empty and nothing is written), and with write writes it (to
// path, else to defaultStructOpsFile in a source checkout, else nowhere). err wraps errBadInput
// when the input is at fault.
func syncStructOps(path string, write bool, kernels []verdict.Kernel) (structOpsResult, error) {
	dst, skip := path, ""
	if write && dst == "" {
		// Outside a source checkout --write edits the kfunc file it is given and leaves the
		// struct_ops table alone, as kfuncs sync did before it had one.
		if _, err := os.Stat(defaultStructOpsFile); err == nil {
			dst = defaultStructOpsFile
		} else {
			write, skip = false, " (not written: give --structops FILE outside the source tree)"
		}
	}
	existing, err := loadStructOps(dst)
	if err != nil {
		return structOpsResult{}, fmt.Errorf("%w: %w", errBadInput, err)
	}
	proposed := proposal.StructOps(existing, kernels, existing.File())
	data := proposal.FormatStructOps(proposed)
	members := 0
	for _, k := range proposed.Kinds() {
		members += len(k.Members)
	}
	res := structOpsResult{line: fmt.Sprintf("struct_ops: %d kinds with %d members", len(proposed.Kinds()), members)}
	if !write {
		res.line += skip
		return res, nil
	}
	if old, err := files.ReadRegular(dst, files.Registry); err == nil && bytes.Equal(old, data) {
		res.line += " (" + dst + " unchanged)"
		return res, nil
	}
	if err := files.WriteAtomic(dst, data, 0o644); err != nil {
		if errors.Is(err, files.ErrRefused) {
			err = fmt.Errorf("%w: %w", errBadInput, err)
		}
		return res, err
	}
	res.written = dst
	return res, nil
}

// syncExit is the exit code of a sync that failed with err: 2 for bad input, else 1.
func syncExit(err error) int {
	if errors.Is(err, errBadInput) {
		return exitBadArgs
	}
	return exitNo
}
