package main

import (
	"context"
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
)

// What every subcommand shares: the output-format flag, the signal context, and the parsing of
// the list-valued flags (--kernels, --helpers, --prog-types). Written once, here.

// formatFlag declares --format with its allowed values; the first is the default. A value
// outside them is refused while the flags are parsed (exit 2).
func formatFlag(fs *flag.FlagSet, allowed ...string) *string {
	v := &choice{value: allowed[0], allowed: allowed}
	fs.Var(v, "format", "output format: "+strings.Join(allowed, ", "))
	return &v.value
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

// signalContext is cancelled by Ctrl-C or SIGTERM: long commands stop their guests and keep
// what they finished.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// splitList splits a comma-separated flag value into its items, refusing empty items
// ("5.10,,7.3").
func splitList(flagName, value string) ([]string, error) {
	if value == "" {
		return nil, nil
	}
	items := strings.Split(value, ",")
	for i, it := range items {
		items[i] = strings.TrimSpace(it)
		if items[i] == "" {
			return nil, fmt.Errorf("--%s %q: an empty item", flagName, value)
		}
	}
	return items, nil
}

// parseHelperIDs reads a comma-separated list of helper ids. An id is positive and fits the
// kernel's enum bpf_func_id (an int).
func parseHelperIDs(flagName, value string) ([]int, error) {
	items, err := splitList(flagName, value)
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(items))
	for i, it := range items {
		id, err := strconv.ParseInt(it, 10, 64)
		if err != nil || id <= 0 || id > math.MaxInt32 {
			return nil, fmt.Errorf("--%s: %q is not a helper id (a number from 1 to %d)", flagName, it, math.MaxInt32)
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

// runSubcommand runs the subcommand args[0] of the command group (helpers, kfuncs): no
// subcommand prints usage to stderr (exit 2), help prints it to stdout (exit 0), an unknown one
// is named (exit 2).
func runSubcommand(group, usage string, sub map[string]func([]string, io.Writer, io.Writer) int, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitBadArgs
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	run, ok := sub[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bpfmatrix %s: unknown subcommand %q\n%s", group, args[0], usage)
		return exitBadArgs
	}
	return run(args[1:], stdout, stderr)
}
