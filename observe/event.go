package observe

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// Phase names a step of a kernel's way through the pipeline.
type Phase string

// The phases, in the order a kernel goes through them.
const (
	// PhaseFetch: the kernel's image is being resolved or downloaded (Message says what).
	PhaseFetch Phase = "fetch"
	// PhaseCached: the kernel's observations came from the cache; nothing boots.
	PhaseCached Phase = "cached"
	// PhaseBoot: the kernel's QEMU guest started.
	PhaseBoot Phase = "boot"
	// PhaseProbe: the agent runs in the guest; Results counts what arrived so far.
	PhaseProbe Phase = "probe"
	// PhaseRetry: the guest failed and the kernel is booted again (Message says why).
	PhaseRetry Phase = "retry"
	// PhaseDone: the kernel is finished; Observation holds its document, Failed says how.
	PhaseDone Phase = "done"
	// PhaseNote: a message about the whole run (the package index, KVM unusable, ...).
	PhaseNote Phase = "note"
)

// Event is one step of a run, for whoever displays progress: a live board on a terminal, plain
// lines in a log, Ginkgo's output.
type Event struct {
	// Kernel names the kernel; empty for a PhaseNote about the whole run.
	Kernel string
	Phase  Phase
	// Message is a short human sentence about the step.
	Message string
	// Results is the number of results received so far (PhaseProbe, PhaseDone).
	Results int
	// Elapsed is the time since the kernel's step began (its fetch, its guest's start).
	Elapsed time.Duration
	// Failed is set on PhaseDone when the kernel failed.
	Failed bool
	// Observation is the kernel's result on PhaseDone of Run; Load is it on PhaseDone of Load.
	Observation *Observation
	Load        *LoadObservation
}

// LineLogger returns an event handler that prints one plain line per step to w ("6.12    booting"),
// the form for logs and CI: probe progress is left out, every other step is a line.
func LineLogger(w io.Writer) func(Event) {
	var mu sync.Mutex
	return func(e Event) {
		if e.Phase == PhaseProbe && e.Results > 0 {
			return
		}
		who := e.Kernel
		if who == "" {
			who = "*"
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%-8s %s\n", who, e.Message)
	}
}

// fetchEvent turns a fetch step into an event. A kernel whose image is ready is not done:
// it still has to be observed.
func fetchEvent(s vmimages.Step) Event {
	e := Event{Kernel: s.Kernel, Phase: PhaseFetch, Message: s.Message}
	if s.Kernel == "" {
		e.Phase = PhaseNote
	}
	return e
}

// guestEvent turns a harness event into an event; PhaseDone events are made by the pipeline,
// which owns the observation.
func guestEvent(e harness.Event, load bool) (Event, bool) {
	out := Event{Kernel: e.Kernel, Results: e.Results, Elapsed: e.Elapsed}
	switch e.Phase {
	case "boot":
		out.Phase, out.Message = PhaseBoot, "booting"
	case "probe":
		out.Phase = PhaseProbe
		verb, what := "probing", "results"
		if load {
			verb, what = "loading", "programs"
		}
		if e.Results == 0 {
			out.Message = fmt.Sprintf("agent up after %.1fs, %s", e.Elapsed.Seconds(), verb)
		} else {
			out.Message = fmt.Sprintf("%s: %d %s (%.0fs)", verb, e.Results, what, e.Elapsed.Seconds())
		}
	case "retry":
		out.Phase, out.Message = PhaseRetry, "failed ("+firstLine(e.Result.Doc.Guest.Error)+"); booting it again"
	default:
		return out, false
	}
	return out, true
}

// doneMessage is the one-line summary of a finished kernel.
func doneMessage(o *Observation) string {
	g := o.Doc.Guest
	switch {
	case o.Failed:
		return "failed: " + firstLine(g.Error)
	case o.Cached:
		return fmt.Sprintf("%d results from the cache (image %.12s)", len(o.Doc.Results), g.SHA256)
	}
	return fmt.Sprintf("%d results, boot %.1fs + probe %.1fs (%s, %s)", len(o.Doc.Results), g.BootSeconds, g.ProbeSeconds, g.Accel, g.Release)
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
