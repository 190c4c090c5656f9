package kernelsrc

import (
	"slices"
	"strings"
)

// Access is what the registrations say about one kfunc.
type Access struct {
	// Kfunc is the kfunc's name.
	Kfunc string
	// Common is set when a set holding the kfunc is registered for BPF_PROG_TYPE_UNSPEC:
	// every program type may call it.
	Common bool
	// ProgTypes are the program types, by the kernel's lower-case name without
	// BPF_PROG_TYPE_ (sched_cls), whose hook holds the kfunc: those registered and those the
	// hook switch sends to the same hook (tracepoint, perf_event and lsm share tracing's).
	ProgTypes []string
	// Filters are the filter callbacks of the id sets that hold the kfunc. A filter may still
	// refuse it to a program of a registered type, depending on the program (its attach
	// type, its expected type), so registration alone does not decide those types.
	Filters []string
	// Registrations are the registrations that give the kfunc to some program type.
	Registrations []Registration
	// Undecided are the guards config could not decide; what they guard was counted in.
	Undecided []Guard
}

// Filtered reports whether some set holding the kfunc has a filter callback.
func (a Access) Filtered() bool { return len(a.Filters) > 0 }

// Allows reports whether programs of progType (lower-case, sched_cls) may call the kfunc by
// registration.
func (a Access) Allows(progType string) bool {
	return a.Common || slices.Contains(a.ProgTypes, progType)
}

// ProgTypeName is the lower-case name of a BPF_PROG_TYPE_ constant, the spelling of the
// observations and the registry (BPF_PROG_TYPE_SCHED_CLS is sched_cls).
func ProgTypeName(constant string) string {
	return strings.ToLower(strings.TrimPrefix(constant, "BPF_PROG_TYPE_"))
}

// Lookup answers which program types may call kfunc by registration, and whether a filter
// has a say; ok is false when no kfunc set holds the name. With a config, set entries,
// id sets and registrations whose guard config rules out are left out (one config decides
// them all, so give the config of the kernel being compared); a nil config counts everything.
func (s *Source) Lookup(kfunc string, config Config) (Access, bool) {
	l, err := s.resolve()
	if err != nil {
		// Parse and ReadExtract refuse a Source that does not resolve; a hand-built one that
		// does not answers nothing.
		return Access{Kfunc: kfunc}, false
	}
	a := Access{Kfunc: kfunc}
	holds := func(g Guard) bool {
		if config == nil || g == "" {
			return true
		}
		v, err := g.Eval(config)
		if err != nil {
			if !slices.Contains(a.Undecided, g) {
				a.Undecided = append(a.Undecided, g)
			}
			return true
		}
		return v
	}
	// sets[i] is set when Sets[i] holds the kfunc under a guard that holds.
	sets := make([]bool, len(s.Sets))
	known := false
	for i, set := range s.Sets {
		for _, e := range set.Kfuncs {
			if e.Name == kfunc {
				known = true
				sets[i] = sets[i] || holds(e.Guard)
			}
		}
	}
	if !known {
		return a, false
	}
	hooks := map[string]bool{}
	for ri, r := range s.Registrations {
		di := l.idSetOf[ri]
		d := s.IDSets[di]
		if !sets[l.setOf[di]] || !holds(d.Guard) || !holds(r.Guard) {
			continue
		}
		a.Registrations = append(a.Registrations, r)
		if d.Filter != "" && !slices.Contains(a.Filters, d.Filter) {
			a.Filters = append(a.Filters, d.Filter)
		}
		if r.ProgType == CommonType {
			a.Common = true
		}
		hooks[l.hook[r.ProgType]] = true
	}
	for _, h := range s.Hooks {
		if h.ProgType != CommonType && hooks[h.Hook] {
			a.ProgTypes = append(a.ProgTypes, ProgTypeName(h.ProgType))
		}
	}
	slices.Sort(a.ProgTypes)
	return a, true
}

// Kfuncs lists the names every set holds, sorted, each once.
func (s *Source) Kfuncs() []string {
	var out []string
	for _, set := range s.Sets {
		for _, e := range set.Kfuncs {
			out = append(out, e.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
