package observation

import (
	"slices"
	"strings"
)

// CollectKfuncFlags sets the Flags of each of d's Kfuncs to the union of the Flags of its
// results. A guest sends its facts before it probes, so the kfunc flags its verifier logs showed
// arrive with the results; a document assembled from such a stream calls this once.
func (d *Document) CollectKfuncFlags() {
	byName := map[string][]string{}
	for _, r := range d.Results {
		if r.Kfunc == "" || r.Flags == "" {
			continue
		}
		for _, f := range strings.Split(r.Flags, ",") {
			if !slices.Contains(byName[r.Kfunc], f) {
				byName[r.Kfunc] = append(byName[r.Kfunc], f)
			}
		}
	}
	for i := range d.Kfuncs {
		k := &d.Kfuncs[i]
		if k.Module != "" {
			continue // module kfuncs are not probed; a vmlinux kfunc may share the name
		}
		for _, f := range byName[k.Name] {
			if !slices.Contains(k.Flags, f) {
				k.Flags = append(k.Flags, f)
			}
		}
		slices.Sort(k.Flags)
	}
}
