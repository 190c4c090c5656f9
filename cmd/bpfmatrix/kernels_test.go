package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// kernelsFixture writes a kernels.yaml with a local bzImage entry (no network needed) and a
// Debian entry that is never pinned.
func kernelsFixture(t *testing.T) (kernelsFile, cacheDir string) {
	t.Helper()
	dir := t.TempDir()
	img := make([]byte, 0x1000)
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x20e:], 0x300)
	copy(img[0x500:], "6.13.0-test (t@example.org) #1\x00")
	testenv.WriteFile(t, filepath.Join(dir, "bzImage"), img)
	// An arm64 Image: the magic at 0x38, then the kernel's version banner.
	arm := make([]byte, 0x100)
	copy(arm[0x38:], "ARM\x64")
	arm = append(arm, "Linux version 6.13.0-arm (t@example.org) #1 SMP\x00"...)
	testenv.WriteFile(t, filepath.Join(dir, "Image"), arm)
	kernelsFile = filepath.Join(dir, "kernels.yaml")
	yaml := "kernels:\n  - name: local\n    path: bzImage\n  - name: \"7.3\"\n    debian: {series: \"7.3\"}\n  - name: localarm\n    arch: arm64\n    path: Image\n"
	testenv.WriteFile(t, kernelsFile, []byte(yaml))
	return kernelsFile, t.TempDir()
}

func TestKernelsCommand(t *testing.T) {
	kf, cache := kernelsFixture(t)
	badYAML := filepath.Join(t.TempDir(), "kernels.yaml")
	os.WriteFile(badYAML, []byte("kernels:\n  - name: x\n    debain: {series: \"5.10\"}\n"), 0o644)
	t.Setenv("CI", "true") // plain progress lines

	steps := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		noStdout []string
	}{
		{name: "no subcommand", args: []string{"kernels"}, code: exitBadArgs, stderr: []string{"usage:"}},
		{name: "unknown subcommand", args: []string{"kernels", "frob"}, code: exitBadArgs, stderr: []string{`unknown subcommand "frob"`}},
		{name: "list before fetch", args: []string{"kernels", "list", "--kernels-file", kf, "--cache-dir", cache}, code: exitOK,
			stdout: []string{"NAME", "local", "path bzImage", "(not locked)", "debian series=7.3"}},
		{name: "bad format", args: []string{"kernels", "list", "--kernels-file", kf, "--format", "xml"}, code: exitBadArgs, stderr: []string{`unknown format "xml"`}},
		{name: "bad kernels file", args: []string{"kernels", "list", "--kernels-file", badYAML}, code: exitBadArgs, stderr: []string{`kernels.yaml:3: unknown key "debain"`}},
		{name: "missing kernels file", args: []string{"kernels", "fetch", "--kernels-file", filepath.Join(t.TempDir(), "none.yaml")}, code: exitBadArgs, stderr: []string{"none.yaml"}},
		{name: "unknown kernel", args: []string{"kernels", "fetch", "4.19", "--kernels-file", kf, "--cache-dir", cache}, code: exitBadArgs, stderr: []string{`unknown kernel "4.19"`, "local, 7.3"}},
		{name: "update and offline", args: []string{"kernels", "fetch", "--update", "--offline", "--kernels-file", kf}, code: exitBadArgs, stderr: []string{"cannot be combined"}},
		{name: "fetch local", args: []string{"kernels", "fetch", "local", "--kernels-file", kf, "--cache-dir", cache}, code: exitOK,
			stdout: []string{"local    copied", "ready: 6.13.0 6.13.0-test", "1 of 1 kernels ready"}},
		{name: "offline fails for the unpinned kernel", args: []string{"kernels", "fetch", "--offline", "--kernels-file", kf, "--cache-dir", cache}, code: exitNo,
			stdout: []string{"cached image verified", "1 of 2 kernels ready"}, stderr: []string{"kernel 7.3: not pinned in kernels.lock"}},
		{name: "list after fetch", args: []string{"kernels", "list", "--kernels-file", kf, "--cache-dir", cache}, code: exitOK,
			stdout: []string{"6.13.0-test", "yes"}, noStdout: []string{"localarm"}},
		{name: "unknown arch", args: []string{"kernels", "fetch", "--arch", "riscv64", "--kernels-file", kf, "--cache-dir", cache}, code: exitBadArgs,
			stderr: []string{`--arch: unknown architecture "riscv64"`}},
		{name: "kernel without the arch", args: []string{"kernels", "fetch", "7.3", "--arch", "arm64", "--kernels-file", kf, "--cache-dir", cache}, code: exitBadArgs,
			stderr: []string{"kernel 7.3 has no arm64 build in " + kf + ":4 (arch: [amd64])"}},
		{name: "list arm64 before fetch", args: []string{"kernels", "list", "--arch", "arm64", "--kernels-file", kf, "--cache-dir", cache}, code: exitOK,
			stdout: []string{"localarm", "(not locked)"}, noStdout: []string{"7.3", "local "}},
		{name: "fetch arm64", args: []string{"kernels", "fetch", "--arch", "arm64", "--kernels-file", kf, "--cache-dir", cache}, code: exitOK,
			stdout: []string{"localarm copied", "ready: 6.13.0 6.13.0-arm", "1 of 1 kernels ready"}},
		{name: "fetch arm64 as amd64", args: []string{"kernels", "fetch", "localarm", "--kernels-file", kf, "--cache-dir", cache}, code: exitBadArgs,
			stderr: []string{"kernel localarm has no amd64 build"}},
		{name: "list arm64 after fetch", args: []string{"kernels", "list", "--arch", "arm64", "--kernels-file", kf, "--cache-dir", cache}, code: exitOK,
			stdout: []string{"localarm", "6.13.0-arm", "yes"}},
	}
	for _, s := range steps {
		var stdout, stderr bytes.Buffer
		code := dispatch(s.args, &stdout, &stderr)
		if code != s.code {
			t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", s.name, code, s.code, stdout.String(), stderr.String())
		}
		for _, w := range s.stdout {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("%s: stdout lacks %q:\n%s", s.name, w, stdout.String())
			}
		}
		for _, w := range s.stderr {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%s: stderr lacks %q:\n%s", s.name, w, stderr.String())
			}
		}
		for _, w := range s.noStdout {
			if strings.Contains(stdout.String(), w) {
				t.Errorf("%s: stdout has %q:\n%s", s.name, w, stdout.String())
			}
		}
	}

	var stdout bytes.Buffer
	if code := dispatch([]string{"kernels", "list", "--format", "json", "--kernels-file", kf, "--cache-dir", cache}, &stdout, os.Stderr); code != exitOK {
		t.Fatalf("list --format json: exit %d", code)
	}
	var rows []struct {
		Name    string `json:"name"`
		Locked  bool   `json:"locked"`
		Release string `json:"release"`
		SHA256  string `json:"sha256"`
		Cached  bool   `json:"cached"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rows); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if len(rows) != 2 || !rows[0].Locked || !rows[0].Cached || rows[0].Release != "6.13.0-test" || len(rows[0].SHA256) != 64 || rows[1].Locked || rows[1].Cached {
		t.Errorf("json rows = %+v", rows)
	}
	if strings.Contains(stdout.String(), `"arch"`) {
		t.Errorf("amd64 rows carry an arch key:\n%s", stdout.String())
	}
	stdout.Reset()
	if code := dispatch([]string{"kernels", "list", "--arch", "arm64", "--format", "json", "--kernels-file", kf, "--cache-dir", cache}, &stdout, os.Stderr); code != exitOK {
		t.Fatalf("list --arch arm64 --format json: exit %d", code)
	}
	var armRows []struct {
		Name   string `json:"name"`
		Arch   string `json:"arch"`
		Cached bool   `json:"cached"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &armRows); err != nil || len(armRows) != 1 || armRows[0].Name != "localarm" || armRows[0].Arch != "arm64" || !armRows[0].Cached {
		t.Errorf("arm64 json rows = %+v (%v)", armRows, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(kf), "kernels.lock")); err != nil {
		t.Errorf("fetch wrote no kernels.lock: %v", err)
	}
}

func TestLiveBoard(t *testing.T) {
	var b bytes.Buffer
	board := &liveBoard{w: &b, names: []string{"a", "b"}, status: map[string]string{"a": "waiting", "b": "waiting"}, width: 40}
	board.draw()
	board.step(stepFor("a", "downloading something rather long that will not fit in forty columns"))
	board.finish()
	out := b.String()
	if !strings.Contains(out, "\x1b[2A") || !strings.Contains(out, "…") {
		t.Errorf("board output lacks cursor movement or truncation: %q", out)
	}
	if !strings.Contains(out, "downloading something rather long that will not fit in forty columns") {
		t.Errorf("finish does not show the full line: %q", out)
	}
}

func stepFor(kernel, msg string) vmimages.Step { return vmimages.Step{Kernel: kernel, Message: msg} }
