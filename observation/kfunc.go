package observation

import (
	"slices"
	"strings"
)

// CollectKfuncFlags adds to the Flags of each of d's vmlinux Kfuncs those of its results. A
// document whose facts were taken before the probe ran (a guest stream cut before the agent's
// second header, an older agent) gets the flags its verifier logs showed back this way.
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
