package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// What every subcommand shares: the parse of its command line (help, bad flags, positional
// arguments), the output-format flag, the bounded numbers, the list-valued flags (--kernels,
// --helpers, --prog-types) and the signal context. Written once, here.

// cmdline is one command as its messages name it ("helpers list") with its usage text.
type cmdline struct {
	path, usage string
}

// parseWith is parse for a command whose flags add declares on a new flag set of its own: it
// returns the declared flags too, so that run and verify start the same way.
func parseWith[F any](c cmdline, add func(*flag.FlagSet) F, nargs int, args []string, stdout, stderr io.Writer) (F, []string, int) {
	fs := flag.NewFlagSet(c.path, flag.ContinueOnError)
	f := add(fs)
	pos, code := c.parse(fs, nargs, args, stdout, stderr)
	return f, pos, code
}

// parse parses args into fs. --help and -h print the usage and the flags to stdout (exit 0); a
// bad flag, or a number of positional arguments other than nargs (any number when nargs < 0),
// is named on stderr (exit 2). It returns the positional arguments, and the exit code when the
// command is to end now (-1 when it goes on).
func (c cmdline) parse(fs *flag.FlagSet, nargs int, args []string, stdout, stderr io.Writer) ([]string, int) {
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, c.usage+"\nflags:\n"+flagUsage(fs))
		return nil, exitOK
	}
	if err != nil {
		return nil, c.fail(stderr, err)
	}
	if nargs < 0 || len(pos) == nargs {
		return pos, -1
	}
	what := fmt.Sprintf("want %d argument(s), got %d", nargs, len(pos))
	if nargs == 0 {
		what = fmt.Sprintf("unexpected argument %q (%s)", pos[0], what)
	}
	fmt.Fprintf(stderr, "bpfmatrix %s: %s; see bpfmatrix %s --help\n", c.path, what, c.path)
	return nil, exitBadArgs
}

// fail names err on stderr as the command's and returns the exit code of bad input.
func (c cmdline) fail(stderr io.Writer, err error) int {
	c.say(stderr, err)
	return exitBadArgs
}

// say prints err on stderr as the command's, a multi-line error joined by oneLine. An error
// that names the command already (the probe package's "probe: ...") is not named twice.
func (c cmdline) say(stderr io.Writer, err error) {
	msg := strings.TrimPrefix(oneLine(err), c.path+": ")
	fmt.Fprintf(stderr, "bpfmatrix %s: %s\n", c.path, msg)
}

// isHelp reports whether arg asks for a command's usage.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// formatFlag declares --format with its allowed values; the first is the default. A value
// outside them is refused while the flags are parsed (exit 2).
func formatFlag(fs *flag.FlagSet, allowed ...string) *string {
	v := &choice{value: allowed[0], allowed: allowed}
	fs.Var(v, "format", "output format: "+strings.Join(allowed, ", "))
	return &v.value
}

// archFlag declares --arch, the architecture of the kernel builds a command is about (amd64 by
// default); usage says what the word selects there. archOf reads the word once the flags are
// parsed, so that every command refuses a bad one alike (exit 2, "--arch: ...").
func archFlag(fs *flag.FlagSet, usage string) *string {
	return fs.String("arch", string(observation.DefaultArch), usage)
}

// archDiffsFlag declares --archdiffs, the file of architecture differences a command reads
// instead of the built-in registry/archdiffs.yaml (loadArchDiffs); usage says what for.
func archDiffsFlag(fs *flag.FlagSet, usage string) *string {
	return fs.String("archdiffs", "", usage)
}

// archOf reads the word given to --arch, by observation.ParseArch, the word's one reader.
func archOf(word string) (observation.Arch, error) {
	arch, err := observation.ParseArch(word)
	if err != nil {
		return "", fmt.Errorf("--arch: %w", err)
	}
	return arch, nil
}

// choice is a flag.Value restricted to some words.
type choice struct {
	value   string
	allowed []string
}

func (c *choice) String() string { return c.value }

func (c *choice) Set(s string) error {
	if !slices.Contains(c.allowed, s) {
		return fmt.Errorf("unknown format %q (want %s)", s, strings.Join(c.allowed, " or "))
	}
	c.value = s
	return nil
}

// intFlag declares an integer flag limited to lo..hi. A value outside is refused while the
// flags are parsed (exit 2): a number that sizes a pool or an allocation must never reach it
// unchecked (--parallel 9999999999 once allocated until the OOM killer came).
func intFlag(fs *flag.FlagSet, name string, def, lo, hi int, usage string) *int {
	v := &boundedInt{value: def, lo: lo, hi: hi}
	fs.Var(v, name, fmt.Sprintf("%s (%d to %d)", usage, lo, hi))
	return &v.value
}

// boundedInt is a flag.Value holding an integer within lo..hi.
type boundedInt struct {
	value, lo, hi int
}

func (b *boundedInt) String() string { return strconv.Itoa(b.value) }

func (b *boundedInt) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not a whole number")
	}
	if n < int64(b.lo) || n > int64(b.hi) {
		return fmt.Errorf("out of range (%d to %d)", b.lo, b.hi)
	}
	b.value = int(n)
	return nil
}

// listFlag declares a comma-separated list flag, split while the flags are parsed (an empty
// item, "5.10,,7.3", is refused there).
func listFlag(fs *flag.FlagSet, name, usage string) *[]string {
	return listFlagOf(fs, name, usage, func(items []string) ([]string, error) { return items, nil })
}

// helperIDsFlag declares a comma-separated list of helper ids, read while the flags are parsed.
func helperIDsFlag(fs *flag.FlagSet, name, usage string) *[]int {
	return listFlagOf(fs, name, usage, readHelperIDs)
}

// listFlagOf declares a comma-separated list flag whose items read turns into values while the
// flags are parsed, so that a bad item is refused there (exit 2) like an empty one.
func listFlagOf[T any](fs *flag.FlagSet, name, usage string, read func([]string) ([]T, error)) *[]T {
	v := &list[T]{read: read}
	fs.Var(v, name, usage)
	return &v.items
}

// list is a flag.Value holding a comma-separated list; String gives back what was typed.
type list[T any] struct {
	text  string
	items []T
	read  func([]string) ([]T, error)
}

func (l *list[T]) String() string { return l.text }

func (l *list[T]) Set(s string) error {
	items, err := splitItems(s)
	if err != nil {
		return err
	}
	values, err := l.read(items)
	if err != nil {
		return err
	}
	l.text, l.items = s, values
	return nil
}

// signalContext is cancelled by Ctrl-C or SIGTERM: long commands stop their guests and keep
// what they finished.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// splitList splits a comma-separated flag value into its items, refusing empty items
// ("5.10,,7.3").
func splitList(flagName, value string) ([]string, error) {
	items, err := splitItems(value)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flagName, err)
	}
	return items, nil
}

// splitItems is splitList for messages that name the flag themselves.
func splitItems(value string) ([]string, error) {
	if value == "" {
		return nil, nil
	}
	items := strings.Split(value, ",")
	for i, it := range items {
		items[i] = strings.TrimSpace(it)
		if items[i] == "" {
			return nil, fmt.Errorf("%q: an empty item", value)
		}
	}
	return items, nil
}

// readHelperIDs reads helper ids. An id is positive and fits the kernel's enum bpf_func_id (an
// int).
func readHelperIDs(items []string) ([]int, error) {
	ids := make([]int, len(items))
	for i, it := range items {
		id, err := strconv.ParseInt(it, 10, 64)
		if err != nil || id <= 0 || id > math.MaxInt32 {
			return nil, fmt.Errorf("%q is not a helper id (a number from 1 to %d)", it, math.MaxInt32)
		}
		ids[i] = int(id)
	}
	return ids, nil
}

// emptyFlags names the string flags that were given an explicitly empty value. Such a value
// would silently mean the default (`--registry ""`), so parseFlags refuses it.
func emptyFlags(fs *flag.FlagSet) []string {
	var out []string
	fs.Visit(func(f *flag.Flag) {
		if f.Value.String() == "" {
			out = append(out, "--"+f.Name)
		}
	})
	return out
}

// subcommand is one subcommand of a command group (helpers list, kernels fetch).
type subcommand func(args []string, stdout, stderr io.Writer) int

// registerGroup adds a command group whose subcommands are sub: no subcommand prints usage to
// stderr (exit 2), help prints it to stdout (exit 0), an unknown one is named (exit 2).
func registerGroup(name, summary, usage string, sub map[string]subcommand) {
	register(&command{name: name, summary: summary, sub: sub, run: func(args []string, stdout, stderr io.Writer) int {
		if len(args) == 0 {
			fmt.Fprint(stderr, usage)
			return exitBadArgs
		}
		if isHelp(args[0]) {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		run, ok := sub[args[0]]
		if !ok {
			fmt.Fprintf(stderr, "bpfmatrix %s: unknown subcommand %q\n%s", name, args[0], usage)
			return exitBadArgs
		}
		return run(args[1:], stdout, stderr)
	}})
}
