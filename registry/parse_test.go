package registry

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// kfuncEntry renders one valid kfunc entry (5 lines) with the given lines added after it.
func kfuncEntry(extra ...string) string {
	return kfuncText("bpf_a", "int bpf_a(void)", "5.8", "xdp, sched_cls", "misc", extra...)
}

// kfuncText renders a kfunc entry of its required facts, one a line (5 lines), with the given
// lines added after it.
func kfuncText(name, prototype, minKernel, progTypes, category string, extra ...string) string {
	lines := append([]string{
		"- name: " + name,
		"  prototype: " + strconv.Quote(prototype),
		"  min_kernel: " + strconv.Quote(minKernel),
		"  prog_types: [" + progTypes + "]",
		"  category: " + category,
	}, extra...)
	return strings.Join(lines, "\n") + "\n"
}

// refusedByKfuncLoader fails t unless the kfunc table text is refused with an error that holds
// want ("k.yaml:LINE: message").
func refusedByKfuncLoader(t *testing.T, text, want string) {
	t.Helper()
	if _, err := ParseKfuncs("k.yaml", []byte(text)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %q", err, want)
	}
}

// wantLineError fails t unless err is a LineError (alone or joined with others) whose message
// has want: what every fault of a registry file must be.
func wantLineError(t *testing.T, err error, want string) {
	t.Helper()
	var le *LineError
	if err == nil || !errors.As(err, &le) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error with %q", err, want)
	}
}

// TestFaultAvailabilityBothLoaders: helpers.yaml and kfuncs.yaml share the availability keys,
// and both loaders refuse the same bad availability with the same message at the same line. The
// kfunc loader used to accept a type whose prog_type_since comes after its prog_type_until, and
// per-type releases older than min_kernel.
func TestFaultAvailabilityBothLoaders(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  string // the message, after "file:LINE: "
	}{
		{"since after until", []string{`  prog_type_since: {xdp: "7.0"}`, `  prog_type_until: {xdp: "6.12"}`},
			"prog_type_until: xdp 6.12 is older than its prog_type_since 7.0"},
		{"since older than min_kernel", []string{`  prog_type_since: {xdp: "5.4"}`},
			"prog_type_since: xdp 5.4 is older than min_kernel 5.8"},
		{"until older than min_kernel", []string{`  prog_type_until: {sched_cls: "5.4"}`},
			"prog_type_until: sched_cls 5.4 is older than min_kernel 5.8"},
		{"since for an unlisted type", []string{`  prog_type_since: {kprobe: "6.1"}`},
			"prog_type_since names kprobe, which prog_types does not list"},
		{"gaps for an unlisted type", []string{`  prog_type_gaps: {lsm: ["6.1..6.6"]}`},
			"prog_type_gaps names lsm, which prog_types does not list"},
		{"gap ending before it starts", []string{`  prog_type_gaps: {xdp: ["6.6..6.1"]}`},
			`prog_type_gaps.xdp: "6.6..6.1" ends before it starts`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { refusedByBothLoaders(t, tt.extra, tt.want) })
	}
}

// refusedByBothLoaders fails t unless a helper entry and a kfunc entry, each with the lines extra
// added, are refused with the message want at the line of the last line added: line 12 of a
// helper entry and line 6 of a kfunc entry for the first.
func refusedByBothLoaders(t *testing.T, extra []string, want string) {
	t.Helper()
	last := len(extra) - 1
	helper := entry(1, "a", extra...)
	if _, err := Parse("h.yaml", []byte(helper)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("h.yaml:%d: %s", 12+last, want)) {
		t.Errorf("helpers.yaml: got %v\nwant h.yaml:%d: %s", err, 12+last, want)
	}
	if _, err := ParseKfuncs("k.yaml", []byte(kfuncEntry(extra...))); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("k.yaml:%d: %s", 6+last, want)) {
		t.Errorf("kfuncs.yaml: got %v\nwant k.yaml:%d: %s", err, 6+last, want)
	}
}

// TestFaultKfuncsParse: the kfunc loader's own keys and checks, each refused with file:line.
func TestFaultKfuncsParse(t *testing.T) {
	ok := kfuncEntry()
	tests := []struct{ name, yaml, want string }{
		{"last_kernel older than min_kernel", kfuncEntry(`  last_kernel: "5.4"`), `k.yaml:6: last_kernel 5.4 is older than min_kernel 5.8`},
		{"prototype of another name", strings.Replace(ok, "int bpf_a(void)", "int bpf_b(void)", 1), `k.yaml:2: prototype "int bpf_b(void)" does not declare bpf_a`},
		{"duplicate kfunc", ok + ok, `k.yaml:6: duplicate kfunc "bpf_a" (first at line 1)`},
		{"unknown key", kfuncEntry("  colour: blue"), `k.yaml:6: unknown key "colour" (known: name, prototype`},
		{"helper key in a kfunc", kfuncEntry("  gpl_only: true"), `k.yaml:6: unknown key "gpl_only"`},
		{"unknown category", strings.Replace(ok, "category: misc", "category: nope", 1), `k.yaml:5: unknown kfunc category "nope"`},
		{"not a sequence", "name: bpf_a\n", "k.yaml:1: want a YAML sequence of kfunc entries"},
		{"empty gaps", kfuncEntry("  gaps: []"), `k.yaml:6: gaps: want a list of "FROM..TO" ranges`},
		{"empty name", strings.Replace(ok, "- name: bpf_a", "- name: >", 1), `k.yaml:1: name is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { refusedByKfuncLoader(t, tt.yaml, tt.want) })
	}
	// A helper entry refuses the kfunc-only keys, as unknown.
	if _, err := Parse("h.yaml", []byte(entry(1, "a", `  last_kernel: "6.1"`))); err == nil || !strings.Contains(err.Error(), `h.yaml:12: unknown key "last_kernel"`) {
		t.Errorf("helper with last_kernel: %v", err)
	}
	// An empty program type list says "callable from no probed type" for a kfunc only.
	if _, err := ParseKfuncs("k.yaml", []byte(strings.Replace(ok, "[xdp, sched_cls]", "[]", 1))); err != nil {
		t.Errorf("kfunc with prog_types []: %v", err)
	}
}
