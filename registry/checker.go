package registry

import (
	"errors"

	"go.yaml.in/yaml/v3"
)

// EntryChecker applies the rules of helpers.yaml to helper entries that a reader of another
// format (package foreign) has converted to the shape of a helpers.yaml entry: a YAML mapping
// with our keys, whose nodes carry the lines of the original file. It collects every problem
// with its line, up to the loader's bound, as Parse does.
//
// A foreign format may write what ours does not: an argument as a keyword standing for its type,
// kept with its colon (":map-ptr"), an argument without a name, a return that is not a string.
// The checker accepts those; every other rule is the loader's.
type EntryChecker struct {
	l loader
}

// NewEntryChecker returns a checker whose messages name file.
func NewEntryChecker(file string) *EntryChecker {
	return &EntryChecker{l: loader{file: file, foreign: true}}
}

// Helper checks one entry and returns it, or nil when it has problems (recorded).
func (c *EntryChecker) Helper(n *yaml.Node) *Helper {
	h, ok := helperKind.entry(&c.l, n)
	if !ok {
		return nil
	}
	return h
}

// Errorf records a problem of the foreign file at the line of n (none when n is nil).
func (c *EntryChecker) Errorf(n *yaml.Node, format string, args ...any) {
	c.l.errorf(n, format, args...)
}

// Problems returns the problems recorded so far, in order, each a *LineError; a reader may
// prefix the messages of those of one entry with the entry's name.
func (c *EntryChecker) Problems() []*LineError {
	out := make([]*LineError, 0, len(c.l.errs))
	for _, err := range c.l.errs {
		if le, ok := err.(*LineError); ok {
			out = append(out, le)
		}
	}
	return out
}

// Err returns every problem recorded, joined, or nil.
func (c *EntryChecker) Err() error { return errors.Join(c.l.errs...) }

// Excerpt quotes a value of a registry file for an error message, as the loader does: its first
// line, cut to ExcerptLen characters, with "..." after the closing quote when anything was left
// out, so that a whole file read as one value does not come back whole in a message.
func Excerpt(s string) string { return excerpt(s) }

// File returns the name the checker's messages give the file.
func (c *EntryChecker) File() string { return c.l.file }
