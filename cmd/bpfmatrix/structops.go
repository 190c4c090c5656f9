package main

import (
	"flag"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/section"
)

// structOpsFlag adds the --structops flag of the commands that read the struct_ops table: the
// kinds and members the kernels register, which questions naming struct_ops/KIND.MEMBER are
// checked against.
func structOpsFlag(fs *flag.FlagSet) *string {
	return fs.String("structops", "", "struct_ops kinds file to use instead of the built-in one")
}

// loadStructOps loads the struct_ops table in path, the built-in one when path is empty. A
// build without the table (the guest agent's) answers with an empty one: questions then name
// kinds and members unchecked, as before the table existed.
func loadStructOps(path string) (*registry.StructOps, error) {
	if path == "" {
		t, err := registry.DefaultStructOps()
		if err == registry.ErrNotEmbedded {
			return registry.NewStructOps(registry.EmbeddedStructOpsFile, nil), nil
		}
		return t, err
	}
	return registry.LoadStructOps(path)
}

// uncheckedNote adds to note, the note of an answer for the program type's facts at where, that
// the struct_ops kind or member where names was not checked to exist, when the struct_ops table
// lists no kinds to check it against.
func uncheckedNote(ops *registry.StructOps, where, note string) string {
	if note == "" || !ops.Empty() {
		return note
	}
	s, err := section.Parse(where)
	if err != nil {
		return note
	}
	return note + registry.UncheckedStructOps(s)
}

// structOpsAnswer is compat's answer when where names a struct_ops kind or member: bad input
// (err) for one no kernel registers, not compatible (ok false, with why) on a kernel without
// it; answered is false when the function's own facts are to answer.
func structOpsAnswer(ops *registry.StructOps, where string, kernel registry.Version) (answered bool, why string, err error) {
	ok, why, err := ops.Check(where, kernel)
	if err != nil || ok {
		return false, "", err
	}
	return true, strings.TrimSpace(why), nil
}

// listStructOps loads the struct_ops table for list and checks the struct_ops kind or member
// that where (--prog-type) names, on kernel (--kernel) when given: an error for one no kernel
// registers, and, when kernel lacks it, the note saying so (list then shows no entries).
func listStructOps(path, where, kernel string) (*registry.StructOps, string, error) {
	ops, err := loadStructOps(path)
	if err != nil || where == "" {
		return ops, "", err
	}
	var k registry.Version
	if kernel != "" {
		// selectEntries has refused a malformed --kernel already.
		k, _ = registry.ParseVersion(kernel)
	}
	ok, why, err := ops.Check(where, k)
	if err != nil || ok {
		return ops, "", err
	}
	return ops, "no entries: " + why, nil
}
