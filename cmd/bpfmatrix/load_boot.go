package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bpfmatrix/bpfmatrix/observe"
)

// loadInput is one object `bpfmatrix load` boots kernels for: its file, the name the user gave
// it (the answers carry it) and the file's hex SHA-256 (the answers are cached by it).
type loadInput struct {
	Path, Name, SHA256 string
	// Programs is the number of programs the object holds.
	Programs int
}

// perProgram is what the default guest time limit grows by for each program a load run loads:
// a large tracing program took up to 1 s to load and attach in a 7.3 guest under TCG here (0.36 s
// on average over 449 programs of Debian's packages), and the limit must not cut a healthy guest.
const perProgram = 2 * time.Second

// loadAllowance is the time a guest gets, on top of the default limit, to load objs.
func loadAllowance(objs []loadInput) time.Duration {
	n := 0
	for _, o := range objs {
		n += o.Programs
	}
	return time.Duration(n) * perProgram
}

// bootLoads loads objs in the kernels named (all of the kernels file when none) through the
// observation pipeline, with the guest flags g and the user's --set and --attach, and returns
// one LoadObservation per kernel in the kernels file's order. Progress goes to stderr as `run`
// shows it (a live board on a terminal, lines otherwise), ending with a line that counts the
// kernels, the failed ones and those answered from the cache. A kernel whose guest fails is a
// Failed observation, not an error; the error is for bad setup (an unknown kernel, no cache
// directory, no QEMU when something must boot) and problems of every kernel.
func bootLoads(ctx context.Context, g *guestFlags, kernels []string, objs []loadInput, set []string, attach bool, stderr io.Writer) ([]observe.LoadObservation, error) {
	opts, err := g.options(strings.Join(kernels, ","))
	if err != nil {
		return nil, err
	}
	names, err := opts.Select()
	if err != nil {
		return nil, err
	}
	if !g.given("timeout") {
		opts.Harness.Timeout += loadAllowance(objs)
	}
	lo := observe.LoadOptions{Options: opts, Set: set, Attach: attach}
	for _, o := range objs {
		lo.Objects = append(lo.Objects, observe.LoadObject{Path: o.Path, Name: o.Name, SHA256: o.SHA256})
	}
	show, finish := progressFor(stderr, names)
	lo.OnEvent = show
	start := time.Now()
	obs, err := observe.Load(ctx, lo)
	finish()
	if err != nil {
		return nil, err
	}
	failed, cached := 0, 0
	for _, o := range obs {
		if o.Failed {
			failed++
		}
		if o.Cached {
			cached++
		}
	}
	fmt.Fprintf(stderr, "bpfmatrix load: %d kernels in %.1fs, %d failed, %d from the cache\n", len(obs), time.Since(start).Seconds(), failed, cached)
	return obs, nil
}
