package main

import (
	"regexp"
	"sort"
	"strings"
	"testing"
)

// everyCommand lists every command and every subcommand of a command group, as typed.
func everyCommand(t *testing.T) [][]string {
	t.Helper()
	var out [][]string
	for name, c := range commands {
		if c.sub == nil {
			out = append(out, []string{name})
			continue
		}
		for sub := range c.sub {
			out = append(out, []string{name, sub})
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.Join(out[i], " ") < strings.Join(out[j], " ") })
	// The groups this test must reach; a command registered later is reached without a change.
	for _, want := range []string{"agent", "helpers compat", "helpers sync", "kernels fetch", "kfuncs list", "probe", "report", "run", "verify"} {
		if !hasCommand(out, want) {
			t.Fatalf("command %q is not registered", want)
		}
	}
	return out
}

func hasCommand(cmds [][]string, want string) bool {
	for _, c := range cmds {
		if strings.Join(c, " ") == want {
			return true
		}
	}
	return false
}

// TestHelpOfEveryCommand: --help, -h and -help of every command, subcommand and group print the
// usage on stdout and exit 0, with nothing on stderr (kernels --help once printed to stderr,
// helpers list --help exited 2).
func TestHelpOfEveryCommand(t *testing.T) {
	cmds := [][]string{{}}
	for _, c := range everyCommand(t) {
		cmds = append(cmds, c)
		if len(c) == 2 && !hasCommand(cmds, c[0]) {
			cmds = append(cmds, c[:1])
		}
	}
	for _, cmd := range cmds {
		for _, help := range []string{"--help", "-h", "-help"} {
			args := append(append([]string{}, cmd...), help)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				code, stdout, stderr := run(args...)
				if code != exitOK || !strings.Contains(stdout, "usage") || stderr != "" {
					t.Errorf("exit %d (want 0)\nstdout: %q\nstderr: %q", code, stdout, stderr)
				}
			})
		}
	}
}

// doubledPrefix finds a command name said twice in a row ("run: run:").
var doubledPrefix = regexp.MustCompile(`\b([a-z]+): ([a-z]+ )?([a-z]+): `)

// TestFaultBadFlagMessages: a flag no command has is refused by every command and subcommand
// (exit 2) in a message that names the command once ("bpfmatrix run: run: ..." was printed).
func TestFaultBadFlagMessages(t *testing.T) {
	for _, cmd := range everyCommand(t) {
		args := append(append([]string{}, cmd...), "--no-such-flag")
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, stderr := run(args...)
			want := "bpfmatrix " + strings.Join(cmd, " ") + ": flag provided but not defined"
			if code != exitBadArgs || !strings.HasPrefix(stderr, want) {
				t.Fatalf("exit %d, stderr %q; want %d and a line starting %q", code, stderr, exitBadArgs, want)
			}
			if m := doubledPrefix.FindStringSubmatch(stderr); m != nil && m[1] == m[3] {
				t.Errorf("stderr names %q twice: %q", m[1], stderr)
			}
		})
	}
}

// TestFormatRefusedAtParse: every --format refuses a value outside its list while the flags are
// parsed, before anything is loaded or booted.
func TestFormatRefusedAtParse(t *testing.T) {
	for _, args := range [][]string{
		{"helpers", "list"}, {"helpers", "info", "1"}, {"helpers", "categories"}, {"helpers", "export"}, {"helpers", "sync"},
		{"kfuncs", "list"}, {"kfuncs", "info", "bpf_task_acquire"}, {"kfuncs", "categories"},
		{"kernels", "list"}, {"probe"}, {"verify"},
	} {
		args := append(args, "--registry", "/nonexistent/registry.yaml", "--format", "xml")
		if args[0] == "kfuncs" || args[0] == "kernels" {
			args = append(args[:len(args)-4], "--format", "xml")
		}
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, stderr := run(args...)
			if code != exitBadArgs || !strings.Contains(stderr, `unknown format "xml"`) {
				t.Errorf("exit %d, stderr %q; want %d and unknown format", code, stderr, exitBadArgs)
			}
		})
	}
}

// TestListFlags: the list flags of run and agent are read while the flags are parsed, by the
// shared parsers, and run's list of kfunc names takes its new spelling and its old one.
func TestListFlags(t *testing.T) {
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"agent", "--helpers", "1,x"}, `"x" is not a helper id`},
		{[]string{"agent", "--helpers", "0"}, `"0" is not a helper id`},
		{[]string{"agent", "--prog-types", "xdp,,kprobe"}, "an empty item"},
		{[]string{"agent", "extra"}, `unexpected argument "extra"`},
		{[]string{"run", "--kfunc-names", "bpf_task_acquire,,bpf_task_release"}, "an empty item"},
		{[]string{"run", "--kfuncs", "bpf_task_acquire,,bpf_task_release"}, "an empty item"},
		{[]string{"run", "--prog-types", ","}, "an empty item"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := run(tt.args...)
			if code != exitBadArgs || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitBadArgs, tt.stderr)
			}
		})
	}
	_, stdout, _ := run("run", "--help")
	for _, want := range []string{"--kfunc-names", "--kfuncs\told spelling of --kfunc-names", "--out\tdirectory for the per-kernel reports (default out/observations)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("run --help lacks %q:\n%s", want, stdout)
		}
	}
}
