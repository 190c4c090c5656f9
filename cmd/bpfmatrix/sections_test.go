package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// sectionTables writes a helper table and a kfunc table whose one entry each has attach-point
// facts, and returns their paths.
func sectionTables(t *testing.T) (helpers, kfuncs string) {
	t.Helper()
	points := `  attach_points:
    kprobe.session: {since: "6.10", evidence: "probe: 6.12"}
    tp_btf/tcp_destroy_sock: {offered: false, evidence: "probe: 6.12 refuses"}
    struct_ops/sched_ext_ops.enqueue: {evidence: "probe: 7.3"}
`
	dir := t.TempDir()
	helpers, kfuncs = filepath.Join(dir, "helpers.yaml"), filepath.Join(dir, "kfuncs.yaml")
	h := "- id: 5\n  name: ktime_get_ns\n  signature: {return: u64, args: []}\n  min_kernel: \"4.1\"\n" +
		"  prog_types: [sched_cls, tracing]\n  gpl_only: false\n  category: time\n  description: Time.\n" + points
	k := "- name: bpf_a\n  prototype: \"int bpf_a(void)\"\n  min_kernel: \"5.8\"\n  prog_types: [sched_cls, tracing]\n  category: misc\n" + points
	for path, text := range map[string]string{helpers: h, kfuncs: k} {
		testenv.WriteFile(t, path, []byte(text))
	}
	return helpers, kfuncs
}

// TestSectionNames: compat, list and info take a libbpf section name where they took a program
// type, for helpers and kfuncs alike: an attach point's facts answer where there are some, its
// program type otherwise (and the output says so); a malformed section is bad input.
func TestSectionNames(t *testing.T) {
	helpers, kfuncs := sectionTables(t)
	tests := []struct {
		args           []string // after "helpers|kfuncs"; NAME is replaced by the group's entry
		code           int
		stdout, stderr string // substrings
	}{
		{[]string{"compat", "NAME", "kprobe.session", "6.12"}, 0, "kprobe.session on 6.12; evidence: probe: 6.12", ""},
		{[]string{"compat", "NAME", "kprobe.session/do_unlinkat", "6.6"}, 1, "reached kprobe.session/do_unlinkat (facts of kprobe.session) in 6.10", ""},
		{[]string{"compat", "NAME", "kprobe", "6.12"}, 1, "note: answered for the default attachment of kprobe programs; the answer differs at: kprobe.session", ""},
		{[]string{"compat", "NAME", "kprobe.multi", "6.12"}, 1, "note: no facts recorded for kprobe.multi: it answers as its program type kprobe (facts are recorded only where an attach point answers otherwise than its parent)\n", ""},
		{[]string{"compat", "NAME", "tp_btf/tcp_destroy_sock", "6.12"}, 1, "although tracing programs may call it", ""},
		{[]string{"compat", "NAME", "tp_btf/sched_switch", "6.12"}, 0, "note: no facts recorded for tp_btf/sched_switch: it answers as its program type tracing", ""},
		{[]string{"compat", "NAME", "tc", "6.12"}, 0, "sched_cls programs on 6.12\n", ""},
		{[]string{"compat", "NAME", "fentry", "6.12"}, 0, "tracing programs on 6.12\nnote: answered for the default attachment of tracing programs; the answer differs at: tp_btf/tcp_destroy_sock\n", ""},
		{[]string{"compat", "NAME", "struct_ops/sched_ext_ops.enqueue", "7.3"}, 0, "struct_ops/sched_ext_ops.enqueue on 7.3", ""},
		{[]string{"compat", "NAME", "struct_ops/tcp_congestion_ops.cong_avoid", "7.3"}, 1, "note: no facts recorded for struct_ops/tcp_congestion_ops.cong_avoid: it answers as its program type struct_ops (facts are recorded only where an attach point answers otherwise than its parent)\n", ""},
		{[]string{"compat", "NAME", "kprobe.session/", "6.12"}, 2, "", `section "kprobe.session/": empty attach target`},
		{[]string{"compat", "NAME", "struct_ops/sched_ext_ops.", "6.12"}, 2, "", `section "struct_ops/sched_ext_ops.": attach target`},
		{[]string{"compat", "NAME", "kprobes", "6.12"}, 2, "", `unknown program type: "kprobes" (section "kprobes"`},
		{[]string{"list", "--prog-type", "kprobe.session", "--kernel", "6.12"}, 0, "NAME", "note: entries with no facts recorded for kprobe.session are listed for its program type kprobe"},
		{[]string{"list", "--prog-type", "tp_btf/tcp_destroy_sock", "--format", "json"}, 0, "[]", ""},
		{[]string{"list", "--prog-type", "iter/", "--kernel", "6.12"}, 2, "", `section "iter/"`},
		{[]string{"info", "NAME"}, 0, "  attach points:\n    kprobe.session: from 6.10 (evidence: probe: 6.12)\n", ""},
		{[]string{"info", "NAME", "--format", "json"}, 0, `"offered": false,`, ""},
	}
	groups := []struct{ group, name, flag, file string }{
		{"helpers", "ktime_get_ns", "--registry", helpers},
		{"kfuncs", "bpf_a", "--kfuncs", kfuncs},
	}
	for _, g := range groups {
		for _, tt := range tests {
			args := []string{g.group}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "NAME", g.name))
			}
			args = append(args, g.flag, g.file)
			t.Run(strings.Join(args[:len(args)-2], " "), func(t *testing.T) {
				code, stdout, stderr := run(args...)
				// A section that loads as its bare program type (tc, fentry without a target)
				// asks the type's question: sched_cls's attach points all answer as it does,
				// so tc has no note.
				noNote := len(tt.args) > 2 && tt.args[2] == "tc"
				if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) || noNote && strings.Contains(stdout, "note:") {
					t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
				}
				if tt.code == 0 && strings.Contains(tt.args[0], "list") && !strings.Contains(tt.stdout, "[]") && !strings.Contains(stdout, g.name) {
					t.Errorf("list lacks %s:\n%s", g.name, stdout)
				}
			})
		}
	}
}

// TestBareProgTypeOutputUnchanged: for a bare program type, an entry without attach-point facts
// answers with no note, as before section names were asked.
func TestBareProgTypeOutputUnchanged(t *testing.T) {
	for _, args := range [][]string{
		{"helpers", "compat", "ktime_get_ns", "sched_cls", "5.10"},
		{"kfuncs", "compat", "bpf_task_acquire", "tracing", "6.12"},
		{"helpers", "list", "--prog-type", "xdp"},
	} {
		code, stdout, stderr := run(args...)
		if code != 0 || strings.Contains(stdout, "note:") || strings.Contains(stderr, "note: entries") || strings.Count(stdout, "\n") < 1 {
			t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
		}
	}
}

// TestDefaultAttachmentAnswers: the questions of issue 18 against a kfunc table recording the
// default attachment of kprobe and struct_ops kinds and members: a bare type answers for its
// default attachment, a section with facts by them, one without as its program type.
func TestDefaultAttachmentAnswers(t *testing.T) {
	table := `- name: bpf_session_cookie
  prototype: "__u64 *bpf_session_cookie(void)"
  min_kernel: "6.10"
  prog_types: [kprobe]
  attach_points:
    kprobe: {offered: false, evidence: "probe: refused on 6.12..7.3 at kprobe; the program type kprobe: offered on 6.12..7.3"}
  category: misc
- name: scx_bpf_dsq_insert
  prototype: "void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags)"
  min_kernel: "6.16"
  prog_types: [struct_ops]
  attach_points:
    struct_ops/sched_ext_ops: {until: "7.0", evidence: "probe: offered on 6.16..7.0, refused on 7.1..7.3 at struct_ops/sched_ext_ops (sched_ext_ops.select_cpu)"}
    struct_ops/sched_ext_ops.enqueue: {evidence: "probe: offered on 6.16..7.3 at struct_ops/sched_ext_ops.enqueue"}
    struct_ops/tcp_congestion_ops: {offered: false, evidence: "probe: refused on 6.16..7.3 at struct_ops/tcp_congestion_ops (tcp_congestion_ops.cong_avoid)"}
  category: sched_ext
`
	path := testenv.WriteFile(t, filepath.Join(t.TempDir(), "kfuncs.yaml"), []byte(table))
	tests := []struct {
		args   []string
		code   int
		stdout string
	}{
		{[]string{"compat", "bpf_session_cookie", "kprobe", "6.12"}, 1, "not compatible: bpf_session_cookie is not callable from kprobe, although kprobe programs attached elsewhere may call it; evidence: probe: refused on 6.12..7.3 at kprobe"},
		{[]string{"compat", "bpf_session_cookie", "kprobe", "6.12"}, 1, "note: answered from the facts of kprobe's default attachment; kprobe programs attached elsewhere answer from the program type's facts, which say offered"},
		{[]string{"compat", "bpf_session_cookie", "kprobe.session", "6.12"}, 0, "compatible: bpf_session_cookie may be called from kprobe programs on 6.12"},
		{[]string{"compat", "scx_bpf_dsq_insert", "struct_ops/sched_ext_ops.enqueue", "7.3"}, 0, "callable from struct_ops/sched_ext_ops.enqueue on 7.3; evidence: probe: offered on 6.16..7.3"},
		{[]string{"compat", "scx_bpf_dsq_insert", "struct_ops/tcp_congestion_ops.cong_avoid", "7.3"}, 1,
			"not callable from struct_ops/tcp_congestion_ops.cong_avoid (facts of struct_ops/tcp_congestion_ops), although struct_ops programs may call it; evidence: probe: refused on 6.16..7.3"},
		{[]string{"compat", "scx_bpf_dsq_insert", "struct_ops/sched_ext_ops.dispatch", "7.3"}, 1, "was withdrawn from struct_ops/sched_ext_ops.dispatch (facts of struct_ops/sched_ext_ops) after 7.0"},
		{[]string{"list", "--prog-type", "kprobe", "--kernel", "6.12"}, 0, "NAME"},
		{[]string{"list", "--prog-type", "kprobe.session", "--kernel", "6.12"}, 0, "bpf_session_cookie"},
		{[]string{"info", "scx_bpf_dsq_insert"}, 0, "    struct_ops/tcp_congestion_ops: not offered (evidence: probe: refused on 6.16..7.3"},
	}
	for _, tt := range tests {
		args := append(append([]string{"kfuncs"}, tt.args...), "--kfuncs", path)
		code, stdout, stderr := run(args...)
		if code != tt.code || !strings.Contains(stdout, tt.stdout) {
			t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(tt.args, " "), code, tt.code, stdout, stderr)
		}
		if strings.HasPrefix(strings.Join(tt.args, " "), "list --prog-type kprobe ") && strings.Contains(stdout, "bpf_session_cookie") {
			t.Errorf("list --prog-type kprobe lists bpf_session_cookie, which kprobe's default attachment refuses:\n%s", stdout)
		}
	}
}
