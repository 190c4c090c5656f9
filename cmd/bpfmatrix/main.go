// Command bpfmatrix answers which BPF helper functions work on which kernel and in which program
// type: it holds the helper registry, probes kernels (the running one, or real kernels booted in
// QEMU guests) and compares the registry with what the kernels said.
//
// Every subcommand lives in a file of its own and registers itself in init, so that the command
// groups (helpers, probe, kernels, run, verify, report) stay independent of each other.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/harness/guest"
)

// Exit codes shared by every subcommand; CI scripts of our users depend on them.
const (
	exitOK      = 0 // success, or a positive answer
	exitNo      = 1 // a negative answer (not compatible, a contradiction)
	exitBadArgs = 2 // bad input: unknown helper, prog type, version, flag, file
)

// command is one top-level subcommand.
type command struct {
	name    string
	summary string
	// run gets the arguments after the subcommand's name and returns the process exit code.
	run func(args []string, stdout, stderr io.Writer) int
	// sub are the subcommands of a command group (see registerGroup); nil for a single command.
	sub map[string]subcommand
}

var commands = map[string]*command{}

// register adds a subcommand; it is called from the init function of the file that implements it.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("bpfmatrix: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	// Inside a bpfmatrix guest this binary is the initramfs's /init: it runs the probe agent
	// and powers the guest off instead of parsing arguments (see bpfmatrix run).
	if guest.IsInit() {
		guest.RunAgent()
	}
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs the command args[0] and returns the process exit code. A command whose output
// could not be written (a full disk, a closed file) has failed, whatever it answered.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitBadArgs
	}
	if isHelp(args[0]) {
		usage(stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bpfmatrix: unknown command %q (run 'bpfmatrix help')\n", args[0])
		return exitBadArgs
	}
	out := &checkedOutput{w: stdout}
	code := c.run(args[1:], out, stderr)
	if out.err != nil {
		path := args[0]
		if _, ok := c.sub[args[min(1, len(args)-1)]]; ok {
			path += " " + args[1]
		}
		fmt.Fprintf(stderr, "bpfmatrix %s: writing the output: %v\n", path, out.err.err)
		if code == exitOK {
			code = exitNo
		}
	}
	return code
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: bpfmatrix <command> [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}

// parseFlags parses fs from args and returns the positional arguments. Unlike flag.Parse it
// accepts flags after positional arguments ("helpers info 5 --format json"), which is how
// people type commands; "--" ends flag parsing. Its errors do not name the command: the
// caller's message does (cmdline.parse).
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional, tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			if empty := emptyFlags(fs); len(empty) > 0 {
				return nil, fmt.Errorf("%s: empty value (leave the flag out for its default)", strings.Join(empty, ", "))
			}
			return append(positional, tail...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// flagUsage renders the flags of fs for a usage message.
func flagUsage(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(&b, "  --%s\t%s", f.Name, f.Usage)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteByte('\n')
	})
	return b.String()
}

// toolVersion names this build for reports: the module version and VCS revision when known.
func toolVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "bpfmatrix (unknown build)"
	}
	v := "bpfmatrix " + info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += "+dirty"
		}
	}
	return v
}
