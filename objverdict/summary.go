package objverdict

import (
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// Summarize says in one line where one program loads, from its answers across kernels in kernel
// order: "every kernel", "6.12 and later; before: <cause: reason>", "5.10, 6.1; not from 6.12:
// <cause: reason>", "no kernel: <cause: reason>", or the kernels it loads on and, per refusal,
// where and why not. A failed kernel is always named.
func Summarize(answers []Answer) string {
	if len(answers) == 0 {
		return "no kernel asked"
	}
	var on []string
	first, last := -1, -1 // the first and last kernels that loaded
	for i, a := range answers {
		if a.Loaded {
			on = append(on, a.Kernel)
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	switch {
	case len(on) == len(answers):
		return "every kernel"
	case len(on) == 0:
		return "no kernel: " + refusals(answers, false)
	case contiguous(answers, first, last) && last == len(answers)-1 && first > 0 && first < last && noFailure(answers):
		return answers[first].Kernel + " and later; before: " + refusals(answers[:first], false)
	case contiguous(answers, first, last) && first == 0 && noFailure(answers):
		return strings.Join(on, ", ") + "; not from " + answers[last+1].Kernel + ": " + refusals(answers[last+1:], false)
	}
	return strings.Join(on, ", ") + "; not on " + refusals(answers, true)
}

// contiguous reports whether every answer from first to last loaded.
func contiguous(answers []Answer, first, last int) bool {
	for _, a := range answers[first : last+1] {
		if !a.Loaded {
			return false
		}
	}
	return true
}

// noFailure reports whether every kernel answered: a failed kernel is named, not folded into a
// range of releases.
func noFailure(answers []Answer) bool {
	for _, a := range answers {
		if a.Cause == observation.CauseKernelFailed {
			return false
		}
	}
	return true
}

// refusals says why the refused answers were refused, each distinct "cause: reason" once, with
// the kernels it holds for when named is set or when there is more than one.
func refusals(answers []Answer, named bool) string {
	var order []string
	kernels := map[string][]string{}
	for _, a := range answers {
		if a.Loaded {
			continue
		}
		why := string(a.Cause)
		if a.Reason != "" {
			why += ": " + a.Reason
		}
		if _, seen := kernels[why]; !seen {
			order = append(order, why)
		}
		kernels[why] = append(kernels[why], a.Kernel)
	}
	parts := make([]string, len(order))
	for i, why := range order {
		parts[i] = why
		if named || len(order) > 1 {
			parts[i] = strings.Join(kernels[why], ", ") + " (" + why + ")"
		}
	}
	return strings.Join(parts, "; ")
}
