package vmimages

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// archOrDefault is the architecture a Fetcher, a lock entry or a manifest stands for: the
// empty word, which everything written before architectures were told apart carries, is amd64.
func archOrDefault(a observation.Arch) observation.Arch {
	if a == "" {
		return observation.DefaultArch
	}
	return a
}

// parseArches reads an entry's "arch" key: one word (arch: arm64) or a list (arch: [amd64,
// arm64]). An unknown word, a word given twice and an empty list are errors naming the line; an
// absent key is [amd64]. A path entry is one image, built for one architecture.
func (e *Entry) parseArches(n *yaml.Node, file string) error {
	e.archLine = e.Line
	if n == nil {
		e.Arches = []observation.Arch{observation.DefaultArch}
		return nil
	}
	n = deref(n)
	e.archLine = n.Line
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
		if len(items) == 0 {
			return fmt.Errorf("%s:%d: kernel %q: arch is an empty list: name at least one of %s, or leave the key out for amd64", file, n.Line, e.Name, archWords())
		}
	}
	for _, item := range items {
		word, err := scalar(item, file, "arch")
		if err != nil {
			return err
		}
		a, err := observation.ParseArch(word)
		if err != nil {
			return fmt.Errorf("%s:%d: kernel %q: %w", file, deref(item).Line, e.Name, err)
		}
		if slices.Contains(e.Arches, a) {
			return fmt.Errorf("%s:%d: kernel %q: arch %s is listed twice", file, deref(item).Line, e.Name, a)
		}
		e.Arches = append(e.Arches, a)
	}
	if _, ok := e.Source.(*PathSource); ok && len(e.Arches) > 1 {
		return fmt.Errorf("%s:%d: kernel %q: a path entry is one image, built for one architecture: give arch one word", file, n.Line, e.Name)
	}
	return nil
}

// archWords lists the architecture words for messages.
func archWords() string {
	return string(observation.ArchAMD64) + ", " + string(observation.ArchARM64)
}

// HasArch reports whether the entry can be had in architecture a (empty: amd64).
func (e Entry) HasArch(a observation.Arch) bool {
	return slices.Contains(e.Arches, archOrDefault(a))
}

// archError is the error of an entry asked for in an architecture it does not list.
func (e Entry) archError(a observation.Arch) error {
	words := make([]string, len(e.Arches))
	for i, x := range e.Arches {
		words[i] = string(x)
	}
	return fmt.Errorf("kernel %s has no %s build in %s:%d (arch: [%s])", e.Name, archOrDefault(a), e.File, e.archLine, strings.Join(words, ", "))
}

// SelectArch returns the entries to use for architecture a (empty: amd64): with no names, every
// entry that lists a, in file order (an error when none does); with names (as Select takes them),
// those entries, each of which must list a, else the error names the entry's line.
func (c *Config) SelectArch(a observation.Arch, names []string) ([]Entry, error) {
	entries, err := c.Select(names)
	if err != nil {
		return nil, err
	}
	named := len(names) > 0
	var out []Entry
	for _, e := range entries {
		switch {
		case e.HasArch(a):
			out = append(out, e)
		case named:
			return nil, e.archError(a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no kernel with an %s build (add arch: [amd64, %s] to an entry)", c.Path, archOrDefault(a), archOrDefault(a))
	}
	return out, nil
}
