package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bpfmatrix/bpfmatrix/observe"
	"github.com/bpfmatrix/bpfmatrix/report"
	"github.com/bpfmatrix/bpfmatrix/verdict"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// savedFlags are the flags of the commands that judge saved observations (verify --in, report).
type savedFlags struct {
	skipBad *bool
}

func addSavedFlags(fs *flag.FlagSet) *savedFlags {
	return &savedFlags{
		skipBad: fs.Bool("skip-bad", false, "go on without observation files that cannot be read (default: such a file is an error, exit 2)"),
	}
}

// errBadInput marks an error of the user's input: the command exits 2.
var errBadInput = errors.New("bad input")

// read reads the per-kernel documents in dir. A file that cannot be read is an error naming it
// (a cut or foreign file would otherwise hide the kernel it should have held, and with it any
// contradiction that kernel shows), unless --skip-bad is given: then it is named on stderr and
// left out. Documents written before the guest block carried the Debian version get it from
// the kernels.lock beside lockNear (a kernels.yaml), when there is one.
func (s *savedFlags) read(dir, lockNear string, stderr io.Writer) ([]report.Kernel, error) {
	obs, err := observe.ReadDir(dir)
	if err != nil {
		if !*s.skipBad || len(obs) == 0 {
			return nil, fmt.Errorf("%w: %w", errBadInput, err)
		}
		fmt.Fprintf(stderr, "bpfmatrix: skipping: %v\n", err)
	}
	if lock, err := vmimages.LoadLock(filepath.Join(filepath.Dir(lockNear), "kernels.lock")); err == nil {
		observe.FillImages(obs, lock)
	} else if !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "bpfmatrix: %v\n", err)
	}
	return reportKernels(obs), nil
}

// reportKernels is the report's view of each observation, named by its label (6.12-arm64 for
// an arm64 build, report.FromDocument). A document that cannot be judged (a kernel version
// that does not parse) becomes a failed kernel, not a lost one.
func reportKernels(obs []observe.Observation) []report.Kernel {
	out := make([]report.Kernel, len(obs))
	for i, o := range obs {
		k, err := report.FromDocument(o.Name, "observations of kernel "+o.Name, o.Doc)
		if err != nil {
			k = report.Kernel{Kernel: verdict.Kernel{Name: o.Label(), Failed: true, Error: err.Error()}}
		}
		out[i] = k
	}
	return out
}
