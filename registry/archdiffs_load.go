package registry

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"go.yaml.in/yaml/v3"
)

// maxBoots bounds a compared release's boots: a number past it is a typo, not a measurement.
const maxBoots = 100

// archDiffKeys are the keys of one difference, all required, in the order sync writes them.
var archDiffKeys = []string{"kind", "name", "where", "release", "arch", "outcome", "words", "amd64_outcome", "amd64_words"}

// ParseArchDiffs validates data, the contents of a file of architecture differences called
// file: a mapping of compared (a list of {release, arch, boots}) and differences (a list, empty
// when none), both required. It is as strict as helpers.yaml: unknown keys, duplicates, bad
// words and values are errors with file:line. A difference must be of a compared release, of
// another architecture than amd64, at an attach point written as the registry keys it, and its
// two outcomes must differ.
func ParseArchDiffs(file string, data []byte) (t *ArchDiffs, err error) {
	// The YAML parser is third-party code fed arbitrary bytes (see readSequence).
	defer func() {
		if p := recover(); p != nil {
			t, err = nil, &LineError{File: file, Msg: fmt.Sprintf("cannot parse YAML: %v", p)}
		}
	}()
	if blank(data) {
		return nil, &LineError{File: file, Msg: "empty file: want a mapping of compared and differences"}
	}
	root, err := document(file, data)
	if err != nil {
		return nil, err
	}
	l := &loader{file: file}
	t = &ArchDiffs{source: newSource(file, data)}
	if fs := l.mapping(root, "architecture differences"); fs != nil {
		l.archDiffsTop(t, root, fs)
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return t, nil
}

// archDiffsTop reads the file's two keys; compared first, whatever their order, since each
// difference is checked against it.
func (l *loader) archDiffsTop(t *ArchDiffs, root *yaml.Node, fs fields) {
	for _, kv := range fs {
		if kv.key != "compared" && kv.key != "differences" {
			l.errorf(kv.keyN, "unknown key %s (known: compared, differences)", excerpt(kv.key))
		}
	}
	for _, req := range []string{"compared", "differences"} {
		if _, ok := fs.get(req); !ok {
			l.errorf(root, "missing required key %q", req)
		}
	}
	if f, ok := fs.get("compared"); ok {
		t.Compared = l.archCompared(f.valN)
	}
	if f, ok := fs.get("differences"); ok {
		t.Differences = l.archDifferences(t, f.valN)
	}
}

// sequence returns the items of the list n, recording an error when n is no list.
func (l *loader) sequence(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, "%s: want a list, found %s", what, kindName(n))
		return nil
	}
	return n.Content
}

// archCompared reads the compared releases, none twice for one architecture.
func (l *loader) archCompared(n *yaml.Node) []ArchCompared {
	out := []ArchCompared{}
	first := map[string]int{}
	for _, item := range l.sequence(n, "compared") {
		fs := l.mapping(item, "compared")
		if fs == nil {
			continue
		}
		var c ArchCompared
		before := len(l.errs)
		l.requireOnly(item, fs, "compared", "release", "arch", "boots")
		for _, kv := range fs {
			switch kv.key {
			case "release":
				c.Release = l.series(kv.valN, "compared: release")
			case "arch":
				c.Arch = l.otherArch(kv.valN, "compared: arch")
			case "boots":
				c.Boots = l.boots(kv.valN)
			}
		}
		if len(l.errs) == before && l.unique(item, first, []uniqueFact{{c.Release.String() + " " + string(c.Arch), fmt.Sprintf("comparison of %s %s", c.Arch, c.Release)}}) {
			out = append(out, c)
		}
	}
	return out
}

// requireOnly records every key of fs outside keys and every key of keys missing from it.
func (l *loader) requireOnly(n *yaml.Node, fs fields, what string, keys ...string) {
	for _, kv := range fs {
		if !slices.Contains(keys, kv.key) {
			l.errorf(kv.keyN, "%s: unknown key %s (known: %s)", what, excerpt(kv.key), strings.Join(keys, ", "))
		}
	}
	for _, k := range keys {
		if _, ok := fs.get(k); !ok {
			l.errorf(n, "%s: missing required key %q", what, k)
		}
	}
}

// boots reads a compared release's number of boots: two or more, since a difference seen by a
// single boot is not recorded.
func (l *loader) boots(n *yaml.Node) int {
	s, ok := l.scalar(n, "compared: boots")
	if !ok {
		return 0
	}
	b, err := strconv.Atoi(s)
	if n.Tag != "!!int" || err != nil || b < 2 || b > maxBoots {
		l.errorf(n, "compared: boots: want a whole number from 2 to %d (a release is compared only when two boots agree), found %s", maxBoots, excerpt(s))
		return 0
	}
	return b
}

// otherArch reads an architecture word other than amd64, whose facts are the registry's own.
func (l *loader) otherArch(n *yaml.Node, what string) observation.Arch {
	s := l.str(n, what)
	a, err := observation.ParseArch(s)
	switch {
	case err != nil:
		l.errorf(n, "%s: %v", what, err)
	case a == observation.ArchAMD64:
		l.errorf(n, "%s: amd64's answers are helpers.yaml's and kfuncs.yaml's own: name another architecture", what)
	}
	return a
}

// outcome reads an outcome word of the observations.
func (l *loader) outcome(n *yaml.Node, what string) observation.Outcome {
	o := observation.Outcome(l.str(n, what))
	if o != "" && !o.Valid() {
		l.errorf(n, "%s: unknown outcome %s (known: %v)", what, excerpt(string(o)), observation.Outcomes)
	}
	return o
}

// archDifferences reads the differences: each of a compared release, none twice.
func (l *loader) archDifferences(t *ArchDiffs, n *yaml.Node) []ArchDifference {
	out := []ArchDifference{}
	first := map[string]int{}
	for _, item := range l.sequence(n, "differences") {
		d, ok := l.archDifference(t, item)
		if !ok {
			continue
		}
		key := strings.Join([]string{string(d.Kind), d.Name, d.Where, d.Release.String(), string(d.Arch)}, " ")
		if l.unique(item, first, []uniqueFact{{key, fmt.Sprintf("difference of %s %s at %s on %s %s", d.Kind, d.Name, d.Where, d.Arch, d.Release)}}) {
			out = append(out, d)
		}
	}
	return out
}

// archDifference reads one difference; it returns false, with the problems recorded, when
// anything is wrong.
func (l *loader) archDifference(t *ArchDiffs, n *yaml.Node) (ArchDifference, bool) {
	var d ArchDifference
	fs := l.mapping(n, "difference")
	if fs == nil {
		return d, false
	}
	before := len(l.errs)
	l.requireOnly(n, fs, "difference", archDiffKeys...)
	for _, kv := range fs {
		what := "difference: " + kv.key
		switch kv.key {
		case "kind":
			d.Kind = FunctionKind(l.str(kv.valN, what))
			if d.Kind != "" && d.Kind != KindHelper && d.Kind != KindKfunc {
				l.errorf(kv.valN, "%s: want helper or kfunc, found %s", what, excerpt(string(d.Kind)))
			}
		case "name":
			if d.Name = l.str(kv.valN, what); d.Name != "" && !kfuncNameRE.MatchString(d.Name) {
				l.errorf(kv.valN, "%s: want a C identifier, found %s", what, excerpt(d.Name))
			}
		case "where":
			d.Where = l.attachKey(kv.valN, what)
		case "release":
			d.Release = l.series(kv.valN, what)
		case "arch":
			d.Arch = l.otherArch(kv.valN, what)
		case "outcome", "amd64_outcome":
			o := l.outcome(kv.valN, what)
			if kv.key == "outcome" {
				d.Outcome = o
			} else {
				d.AMD64Outcome = o
			}
		case "words", "amd64_words":
			if *wordsOf(&d, kv.key) = l.str(kv.valN, what); strings.TrimSpace(*wordsOf(&d, kv.key)) == "" {
				l.errorf(kv.valN, "%s is empty: quote the kernel's own line", what)
			}
		}
	}
	if len(l.errs) != before {
		return d, false
	}
	return d, l.checkDifference(t, n, d)
}

// wordsOf is the field of d that the words key key fills.
func wordsOf(d *ArchDifference, key string) *string {
	if key == "words" {
		return &d.Words
	}
	return &d.AMD64Words
}

// checkDifference cross-checks a difference whose keys all read: its release compared for its
// architecture, its two outcomes different.
func (l *loader) checkDifference(t *ArchDiffs, n *yaml.Node, d ArchDifference) bool {
	if _, ok := t.ComparedAt(d.Release, d.Arch); !ok {
		l.errorf(n, "difference of %s at %s: %s %s is not listed under compared (compared for %s: %s)",
			d.Name, d.Where, d.Arch, d.Release, d.Arch, t.ComparedReleases(d.Arch))
		return false
	}
	if d.Outcome == d.AMD64Outcome {
		l.errorf(n, "difference of %s at %s: outcome and amd64_outcome are both %s: no difference", d.Name, d.Where, d.Outcome)
		return false
	}
	return true
}

// attachKey reads an attach point written as the registry keys it (AttachPointKey): a program
// type, or a section key such as cgroup/connect4.
func (l *loader) attachKey(n *yaml.Node, what string) string {
	s := l.str(n, what)
	if s == "" {
		return ""
	}
	sec, err := parseWhere(s)
	if err != nil {
		l.errorf(n, "%s: %v", what, err)
		return ""
	}
	if key := AttachPointKey(sec); key != s {
		l.errorf(n, "%s: %s: write the attach point as the registry keys it, %q", what, excerpt(s), key)
		return ""
	}
	return s
}
