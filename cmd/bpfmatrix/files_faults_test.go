package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// hostile makes in a new temporary directory the files no command may write over or read: a
// device like /dev/null ("null"), one like /dev/zero ("zero"), a link to the first
// ("link-null", as /proc/self/fd/1 is a link to a terminal), a link to the second
// ("link-zero") and a FIFO ("fifo"). It returns the directory.
func hostile(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	testenv.Nodes(t, dir, "null", "zero", "link-null", "link-zero", "fifo")
	return dir
}

// modes records the type of every entry of dir, to see that a command changed none.
func modes(t *testing.T, dir string) map[string]os.FileMode {
	t.Helper()
	m := map[string]os.FileMode{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		m[e.Name()] = e.Type()
	}
	return m
}

// runSoon runs the command in-process and fails the test when it has not returned within 10 s
// (a FIFO blocks a reader, /dev/zero never ends one).
func runSoon(t *testing.T, args ...string) (code int, stderr string) {
	t.Helper()
	testenv.Within(t, fmt.Sprintf("%q", args), 10*time.Second, func() error {
		code, _, stderr = run(args...)
		return nil
	})
	return code, stderr
}

// TestFaultWriteOverNodes: every command that writes refuses (exit 2, naming the path and what
// it is) an output path that is a device, a FIFO or a link to one, and leaves it as it was.
// `helpers export --out` once replaced such a node with a 318 KB regular file and exited 0: as
// root, --out /dev/null destroyed /dev/null.
func TestFaultWriteOverNodes(t *testing.T) {
	dir := hostile(t)
	obs := syncObservations(t, "6.12 6.12.118 ok supported supported")
	reg := writeTemp(t, "helpers.yaml", syncRegistry)
	kfile := fakeKernels(t, fakeqemu.Replay)
	// Output directories holding a FIFO where a command would write one of its files.
	runOut, reportOut := t.TempDir(), t.TempDir()
	for _, p := range []string{filepath.Join(runOut, fakeqemu.Replay+".json"), filepath.Join(reportOut, "report.md")} {
		testenv.FIFO(t, p)
	}
	before := modes(t, dir)
	type cmd struct {
		name string
		args func(node string) []string
	}
	for _, c := range []cmd{
		{"helpers export", func(n string) []string { return []string{"helpers", "export", "--out", n} }},
		{"helpers sync --write", func(n string) []string {
			return []string{"helpers", "sync", "--in", obs, "--registry", n, "--write"}
		}},
		{"kfuncs sync --write", func(n string) []string {
			return []string{"kfuncs", "sync", "--in", recordedObservations, "--kfuncs", n, "--write"}
		}},
		{"report --out", func(n string) []string { return []string{"report", "--in", obs, "--registry", reg, "--out", n} }},
		{"run --out", func(n string) []string {
			return []string{"run", "--kernels-file", kfile, "--qemu", os.Args[0], "--cache-dir", t.TempDir(), "--out", n}
		}},
		{"verify --out", func(n string) []string {
			return []string{"verify", "--kernels-file", kfile, "--qemu", os.Args[0], "--cache-dir", t.TempDir(), "--registry", reg, "--out", n}
		}},
	} {
		for _, node := range []string{"null", "link-null", "fifo"} {
			t.Run(c.name+" "+node, func(t *testing.T) {
				path := filepath.Join(dir, node)
				code, stderr := runSoon(t, c.args(path)...)
				if code != exitBadArgs || !strings.Contains(stderr, path+": not a ") {
					t.Errorf("exit %d, want %d with a message naming %s and what it is\n%s", code, exitBadArgs, path, stderr)
				}
			})
		}
	}
	if after := modes(t, dir); len(after) != len(before) {
		t.Errorf("entries %v, were %v", after, before)
	} else {
		for name, m := range before {
			if after[name] != m {
				t.Errorf("%s is now %v, was %v", name, after[name], m)
			}
		}
	}
	// A file a command writes into its output directory.
	for _, tt := range []struct {
		name, path string
		args       []string
	}{
		{"run --out DIR", filepath.Join(runOut, fakeqemu.Replay+".json"), []string{"run", "--kernels-file", kfile, "--qemu", os.Args[0], "--cache-dir", t.TempDir(), "--out", runOut}},
		{"report --out DIR", filepath.Join(reportOut, "report.md"), []string{"report", "--in", obs, "--registry", reg, "--out", reportOut}},
	} {
		code, stderr := runSoon(t, tt.args...)
		if code != exitBadArgs || !strings.Contains(stderr, tt.path+": not a regular file (a named pipe)") {
			t.Errorf("%s: exit %d, want %d naming %s\n%s", tt.name, code, exitBadArgs, tt.path, stderr)
		}
	}
	if left, _ := os.ReadDir(reportOut); len(left) != 1 {
		t.Errorf("report --out wrote %d files beside the FIFO", len(left)-1)
	}
}

// TestFaultReadNodes: every file a command reads is refused at once (exit 2, naming it and what
// it is) when it is a device, a FIFO or a link to one: a kernels file linked to /dev/zero grew
// memory until the runtime died, one that is a FIFO blocked until Ctrl-C, and a kernel whose
// `path:` is /dev/zero made verify spin for ten minutes.
func TestFaultReadNodes(t *testing.T) {
	dir := hostile(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	zeroKernels := writeTemp(t, "kernels.yaml", "kernels:\n  - name: zero\n    path: "+filepath.Join(dir, "zero")+"\n")
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"kernels file linked to a device", []string{"verify", "--kernels-file", filepath.Join(dir, "link-zero")}, "link-zero: not a regular file (a character device)"},
		{"kernels file a FIFO", []string{"verify", "--kernels-file", filepath.Join(dir, "fifo")}, "fifo: not a regular file (a named pipe)"},
		{"registry a FIFO", []string{"verify", "--registry", filepath.Join(dir, "fifo")}, "fifo: not a regular file (a named pipe)"},
		{"kfuncs linked to a device", []string{"verify", "--kfuncs", filepath.Join(dir, "link-zero")}, "link-zero: not a regular file (a character device)"},
		{"kernel image a device", []string{"verify", "--kernels-file", zeroKernels, "--qemu", os.Args[0]},
			"kernel zero (" + zeroKernels + ":2): image: " + filepath.Join(dir, "zero") + ": not a regular file (a character device)"},
		{"kernel image a device, fetched", []string{"kernels", "fetch", "--kernels-file", zeroKernels},
			"kernel zero (" + zeroKernels + ":2): image: " + filepath.Join(dir, "zero") + ": not a regular file (a character device)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := runSoon(t, tt.args...)
			if code != exitBadArgs || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want %d saying %q\n%s", code, exitBadArgs, tt.want, stderr)
			}
		})
	}
}
