package registry

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/section"
)

// TestFaultAttachPointsBothLoaders: helpers.yaml and kfuncs.yaml read attach_points with the same
// rules and refuse the same mistakes with the same message at the line of the attach point.
func TestFaultAttachPointsBothLoaders(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  string // the message, after "file:LINE: "
	}{
		{"empty", []string{"  attach_points: {}"}, "attach_points: empty mapping: leave the key out"},
		{"a list", []string{"  attach_points: [kprobe.session]"}, "attach_points: want a mapping, found a list"},
		{"unknown section", []string{"  attach_points: {kprobe.sesion: {evidence: e}}"}, `attach_points: section "kprobe.sesion": `},
		{"malformed target", []string{"  attach_points: {struct_ops/Foo.: {evidence: e}}"}, `attach_points: section "struct_ops/Foo.": attach target`},
		{"alias", []string{"  attach_points: {tp/sched/x: {evidence: e}}"}, `attach_points: write "tp/sched/x" as its canonical key "tracepoint/sched/x"`},
		{"tc, sched_cls's default", []string{"  attach_points: {tc: {evidence: e}}"}, `attach_points: write "tc" as its canonical key "sched_cls"`},
		{"fentry without a target", []string{"  attach_points: {fentry: {evidence: e}}"}, `attach_points: write "fentry" as its canonical key "tracing"`},
		{"refusal of an unoffered default", []string{"  attach_points: {kprobe: {offered: false, evidence: e}}"}, "attach_points: kprobe refuses what its program type kprobe does not offer"},
		{"tc alias", []string{"  attach_points: {tc/ingress: {evidence: e}}"}, `attach_points: write "tc/ingress" as its canonical key "tcx/ingress"`},
		{"no evidence", []string{`  attach_points: {xdp.frags: {since: "6.1"}}`}, "attach_points.xdp.frags needs evidence: which kernels and targets showed it"},
		{"empty evidence", []string{`  attach_points: {xdp.frags: {evidence: ""}}`}, "attach_points.xdp.frags.evidence is empty"},
		{"unknown key", []string{"  attach_points: {xdp.frags: {evidence: e, colour: red}}"}, `attach_points.xdp.frags: unknown key "colour" (known: since, until, gaps, offered, evidence)`},
		{"offered true", []string{"  attach_points: {xdp.frags: {offered: true, evidence: e}}"}, "attach_points.xdp.frags.offered: write it only as false"},
		{"offered not a bool", []string{"  attach_points: {xdp.frags: {offered: no, evidence: e}}"}, `attach_points.xdp.frags.offered: want true or false, found "no"`},
		{"refusal with since", []string{`  attach_points: {xdp.frags: {offered: false, since: "6.1", evidence: e}}`}, "attach_points.xdp.frags: offered: false takes no since, until or gaps"},
		{"until before since", []string{`  attach_points: {xdp.frags: {since: "7.0", until: "6.12", evidence: e}}`}, "attach_points.xdp.frags: until 6.12 is older than since 7.0"},
		{"unquoted version", []string{"  attach_points: {xdp.frags: {since: 6.10, evidence: e}}"}, "attach_points.xdp.frags.since: write versions as quoted strings"},
		{"bad gap", []string{`  attach_points: {xdp.frags: {gaps: ["6.6..6.1"], evidence: e}}`}, `attach_points.xdp.frags.gaps: "6.6..6.1" ends before it starts`},
		{"refusal of an unoffered type", []string{"  attach_points: {kprobe.session: {offered: false, evidence: e}}"}, "attach_points: kprobe.session refuses what its program type kprobe does not offer"},
		{"since before min_kernel", []string{`  attach_points: {xdp.frags: {since: "5.4", evidence: e}}`}, "attach_points: xdp.frags since 5.4 is older than min_kernel 5.8"},
		{"duplicate key", []string{"  attach_points:", "    iter/tcp: {evidence: e}", "    iter/tcp: {evidence: f}"}, `attach_points: duplicate key "iter/tcp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { refusedByBothLoaders(t, tt.extra, tt.want) })
	}
}

// pointFacts are attach-point facts every test of the query reads, for a kfunc offered to
// xdp and sched_cls from 5.8.
var pointFacts = []string{
	"  attach_points:",
	`    xdp.frags: {since: "6.1", evidence: "probe: 6.1, 7.3"}`,
	`    tcx/ingress: {offered: false, evidence: "probe: 6.12 refuses"}`,
	`    kprobe.session: {since: "6.10", evidence: "probe: 6.12"}`,
	`    iter/tcp: {gaps: ["6.1..6.6"], evidence: "probe: 6.1 refuses, 6.12 accepts"}`,
	`    struct_ops/sched_ext_ops: {since: "6.16", evidence: "probe: 6.16"}`,
	`    struct_ops/sched_ext_ops.enqueue: {until: "7.0", evidence: "probe: 7.1 refuses"}`,
	`    fentry/dentry_open: {evidence: "probe: fentry/d_path refuses"}`,
}

// pointTables loads a helper table and a kfunc table whose one entry each ("a", "bpf_a") has
// pointFacts and the given extra entries.
func pointTables(t *testing.T, extraKfuncs string) (*Registry, *Kfuncs) {
	t.Helper()
	reg := testenv.Must(Parse("h.yaml", []byte(entry(1, "a", pointFacts...))))(t)
	return reg, testenv.Must(ParseKfuncs("k.yaml", []byte(kfuncEntry(pointFacts...)+extraKfuncs)))(t)
}

// TestAttachPointsLoad: good attach points load into the entry of both tables, and show in info
// and JSON.
func TestAttachPointsLoad(t *testing.T) {
	reg, ks := pointTables(t, "")
	h, _ := reg.Lookup("a")
	k, _ := ks.Lookup("bpf_a")
	for _, a := range []*Availability{&h.Availability, &k.Availability} {
		if len(a.AttachPoints) != len(pointFacts)-1 {
			t.Errorf("%d attach points, want %d", len(a.AttachPoints), len(pointFacts)-1)
		}
		if p := a.AttachPoints["tcx/ingress"]; !p.Refused || p.Evidence != "probe: 6.12 refuses" {
			t.Errorf("tcx/ingress: %+v", p)
		}
		if p := a.AttachPoints["iter/tcp"]; len(p.Gaps) != 1 || p.Gaps[0].String() != "6.1..6.6" {
			t.Errorf("iter/tcp: %+v", p)
		}
	}
	for _, d := range []string{h.Describe(), k.Describe()} {
		if !strings.Contains(d, "  attach points:\n") || !strings.Contains(d, "    tcx/ingress: not offered (evidence: probe: 6.12 refuses)\n") ||
			!strings.Contains(d, "    xdp.frags: from 6.1 (evidence: probe: 6.1, 7.3)\n") {
			t.Errorf("Describe lacks the attach points:\n%s", d)
		}
	}
	for _, e := range []any{h, k} {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"attach_points":{`, `"tcx/ingress":{"offered":false,"evidence":"probe: 6.12 refuses"}`,
			`"iter/tcp":{"gaps":["6.1..6.6"],"evidence":"probe: 6.1 refuses, 6.12 accepts"}`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("JSON lacks %s:\n%s", want, b)
			}
		}
	}
}

// TestAttachPointsJSONOnlyWhenSet: an entry without attach points writes no attach_points key
// and describes itself as before.
func TestAttachPointsJSONOnlyWhenSet(t *testing.T) {
	reg := small(t)
	for _, h := range reg.Helpers() {
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "attach_points") || strings.Contains(h.Describe(), "attach points") {
			t.Errorf("%s without attach points shows them: %s", h.Name, b)
		}
	}
}

// TestCheckAt: the question at a program type or a section name, for helpers and kfuncs alike.
// An attach point with facts is answered by them (the most specific key first); one without is
// answered for its program type, and the note says so; a bare program type answers as Check.
func TestCheckAt(t *testing.T) {
	reg, ks := pointTables(t, "")
	tests := []struct {
		where, kernel string
		ok            bool
		key           string // the attach point whose facts decide, "" for the program type
		why, note     string // substrings; note "" means none
	}{
		{"xdp", "6.12", true, "", "", ""},
		{"sched_cls", "6.12", true, "", "", "the answer differs at: tcx/ingress"},
		{"kprobe", "6.12", false, "", "not", "the answer differs at: kprobe.session"},
		{"kprobe", "6.6", false, "", "not", ""},
		{"xdp.frags", "6.1", true, "xdp.frags", "evidence: probe: 6.1, 7.3", ""},
		{"xdp.frags", "5.15", false, "xdp.frags", "reached xdp.frags in 6.1, newer than 5.15", ""},
		{"xdp.frags", "5.4", false, "xdp.frags", "first appeared in 5.8", ""},
		{"tc/ingress", "6.12", false, "tcx/ingress", "tc/ingress (facts of tcx/ingress), although sched_cls programs may call it", ""},
		{"tc", "6.12", true, "", "", "the answer differs at: tcx/ingress"}, // sched_cls's default attachment
		{"classifier", "6.12", true, "", "", "the answer differs at: tcx/ingress"},
		{"kprobe.session", "6.12", true, "kprobe.session", "kprobe.session on 6.12", ""},
		{"kprobe.session/do_unlinkat", "6.12", true, "kprobe.session", "(facts of kprobe.session)", ""},
		{"kprobe.multi", "6.12", false, "", "", "no facts recorded for kprobe.multi: it answers as its program type kprobe"},
		{"iter/tcp", "6.6", false, "iter/tcp", "withdrawn from iter/tcp in 6.1..6.6", ""},
		{"iter/tcp", "6.12", true, "iter/tcp", "", ""},
		{"iter/udp", "6.12", false, "", "", "no facts recorded for iter/udp: it answers as its program type tracing"},
		{"struct_ops/sched_ext_ops.enqueue", "7.0", true, "struct_ops/sched_ext_ops.enqueue", "", ""},
		{"struct_ops/sched_ext_ops.enqueue", "7.3", false, "struct_ops/sched_ext_ops.enqueue", "withdrawn from struct_ops/sched_ext_ops.enqueue after 7.0", ""},
		{"struct_ops/sched_ext_ops.dispatch", "7.3", true, "struct_ops/sched_ext_ops", "(facts of struct_ops/sched_ext_ops)", ""},
		{"struct_ops/sched_ext_ops.dispatch", "6.12", false, "struct_ops/sched_ext_ops", "reached struct_ops/sched_ext_ops.dispatch", ""},
		{"struct_ops/tcp_congestion_ops.cong_avoid", "7.3", false, "", "", "no facts recorded for struct_ops/tcp_congestion_ops.cong_avoid"},
		{"fentry/dentry_open", "6.12", true, "fentry/dentry_open", "", ""},
		{"fentry/d_path", "6.12", false, "", "", "no facts recorded for fentry/d_path: it answers as its program type tracing"},
	}
	for _, tt := range tests {
		t.Run(tt.where+"@"+tt.kernel, func(t *testing.T) {
			v := MustParseVersion(tt.kernel)
			c, err := reg.CheckAt("a", tt.where, v)
			if err != nil {
				t.Fatal(err)
			}
			ok, why, p, err := ks.CompatibleAt("bpf_a", tt.where, v)
			if err != nil {
				t.Fatal(err)
			}
			for _, got := range []struct {
				kind, key, why, note string
				ok                   bool
			}{{"helper", c.AttachPoint, c.Reason, c.Note, c.OK}, {"kfunc", p.Key, why, p.Note, ok}} {
				if got.ok != tt.ok || got.key != tt.key || !strings.Contains(got.why, tt.why) ||
					(tt.note == "") != (got.note == "") || !strings.Contains(got.note, tt.note) {
					t.Errorf("%s: ok %v, key %q, why %q, note %q; want %v, %q, %q, %q", got.kind, got.ok, got.key, got.why, got.note, tt.ok, tt.key, tt.why, tt.note)
				}
			}
			if BareProgType(tt.where) {
				old, _ := reg.Check("a", tt.where, v)
				oldOK, oldWhy, _ := ks.Compatible("bpf_a", tt.where, v)
				if old.OK != c.OK || old.Reason != c.Reason || oldOK != ok || oldWhy != why {
					t.Errorf("a bare program type answers otherwise than Check: %+v / %v %q", old, oldOK, oldWhy)
				}
			}
		})
	}
}

// TestCheckAtBadWhere: a malformed section is refused with the section package's error; a word
// nothing knows is still an unknown program type.
func TestCheckAtBadWhere(t *testing.T) {
	reg := small(t)
	name := reg.Helpers()[0].Name
	tests := []struct {
		where       string
		progTypeErr bool
	}{
		{"xdpp", true},
		{"unspec", true},
		{"kprobe.session/", false},
		{"struct_ops/sched_ext_ops.", false},
		{"iter/", false},
		{"nosuch/thing", false},
	}
	for _, tt := range tests {
		_, err := reg.CheckAt(name, tt.where, MustParseVersion("6.12"))
		var se *section.Error
		if !errors.As(err, &se) || errors.Is(err, ErrUnknownProgType) != tt.progTypeErr {
			t.Errorf("CheckAt(%q): %v (unknown program type: %v)", tt.where, err, errors.Is(err, ErrUnknownProgType))
		}
		if _, err := reg.Available(tt.where, nil); !errors.As(err, &se) {
			t.Errorf("Available(%q): %v", tt.where, err)
		}
	}
}

// TestAvailableAt: list --prog-type with a section name keeps the entries its facts offer, and
// answers the others for the section's program type.
func TestAvailableAt(t *testing.T) {
	_, ks := pointTables(t, strings.ReplaceAll(kfuncEntry(), "bpf_a", "bpf_b"))
	// WHERE@VERSION -> the kfuncs listed, in name order.
	want := map[string]string{
		"sched_cls@6.12": "bpf_a bpf_b", "tcx/ingress@6.12": "bpf_b", "kprobe.session@6.12": "bpf_a",
		"kprobe.session@6.6": "", "iter/tcp@6.12": "bpf_a", "xdp.frags@5.15": "bpf_b",
	}
	for question, names := range want {
		where, kernel, _ := strings.Cut(question, "@")
		v := MustParseVersion(kernel)
		got, err := ks.Available(where, &v)
		var listed []string
		for _, k := range got {
			listed = append(listed, k.Name)
		}
		if err != nil || strings.Join(listed, " ") != names {
			t.Errorf("Available(%s, %s) = %v, %v; want %s", where, kernel, listed, err, names)
		}
	}
}

// TestPointChain: the keys whose facts answer for a section, most specific first, as Locate,
// sync and verdict walk them; a section with a target whose prefix loads as the bare type goes
// through the type's default attachment.
func TestPointChain(t *testing.T) {
	tests := []struct{ where, chain string }{
		{"kprobe", "kprobe"},
		{"uprobe", "kprobe"},
		{"kprobe/do_unlinkat", "kprobe/do_unlinkat kprobe"},
		{"kprobe.session", "kprobe.session"},
		{"kprobe.session/do_unlinkat", "kprobe.session/do_unlinkat kprobe.session"},
		{"tc", "sched_cls"},
		{"tc/ingress", "tcx/ingress"},
		{"fentry", "tracing"},
		{"fentry/dentry_open", "fentry/dentry_open tracing"},
		{"fentry.s/dentry_open", "fentry.s/dentry_open fentry.s"},
		{"iter/tcp", "iter/tcp iter"},
		{"lsm/file_open", "lsm/file_open lsm"},
		{"lsm.s/file_open", "lsm.s/file_open lsm.s"},
		{"struct_ops", "struct_ops"},
		{"struct_ops/sched_ext_ops.enqueue", "struct_ops/sched_ext_ops.enqueue struct_ops/sched_ext_ops struct_ops"},
		{"struct_ops/Qdisc_ops", "struct_ops/Qdisc_ops struct_ops"},
	}
	for _, tt := range tests {
		s, err := section.Parse(tt.where)
		if err != nil {
			t.Fatal(err)
		}
		chain := PointChain(s)
		if got := strings.Join(chain, " "); got != tt.chain {
			t.Errorf("PointChain(%s) = %s, want %s", tt.where, got, tt.chain)
			continue
		}
		parents, err := ParentChain(chain[0])
		if err != nil || strings.Join(parents, " ") != strings.Join(chain[1:], " ") {
			t.Errorf("ParentChain(%s) = %v, %v; want %v", chain[0], parents, err, chain[1:])
		}
	}
	if _, err := ParentChain("tc"); err == nil || !strings.Contains(err.Error(), `canonical key is "sched_cls"`) {
		t.Errorf("ParentChain(tc): %v", err)
	}
}

// defaultFacts are those of a kfunc offered to kprobe and tracing programs whose default
// attachments refuse it: kprobe.session and fentry/dentry_open are where it may be called.
var defaultFacts = []string{
	"  attach_points:",
	`    kprobe: {offered: false, evidence: "probe: refused on 6.12..7.3 at kprobe"}`,
	`    tracing: {offered: false, evidence: "probe: refused on 6.12..7.3 at tracing (bpf_fentry_test1)"}`,
	`    fentry/dentry_open: {evidence: "probe: offered on 6.12..7.3 at fentry/dentry_open"}`,
}

// TestDefaultAttachment: a key named as the program type answers for the type's default
// attachment (a bare type, a section loading as it, a target of such a section), and the note
// says that the type's other attachments answer from prog_types.
func TestDefaultAttachment(t *testing.T) {
	text := strings.Replace(kfuncEntry(defaultFacts...), "prog_types: [xdp, sched_cls]", "prog_types: [kprobe, tracing]", 1)
	ks := testenv.Must(ParseKfuncs("k.yaml", []byte(text)))(t)
	tests := []struct {
		where     string
		ok        bool
		key       string
		why, note string
	}{
		{"kprobe", false, "kprobe", "is not callable from kprobe, although kprobe programs attached elsewhere may call it", "programs attached elsewhere answer from the program type's facts, which say offered"},
		{"uprobe", false, "kprobe", "uprobe (facts of kprobe)", "attached elsewhere"},
		{"kprobe/do_unlinkat", false, "kprobe", "(facts of kprobe)", ""},
		{"kprobe.session", true, "", "", "no facts recorded for kprobe.session"},
		{"fentry", false, "tracing", "fentry (facts of tracing)", "the answer differs at: fentry/dentry_open"},
		{"tracing", false, "tracing", "probe: refused on 6.12..7.3 at tracing", "the answer differs at: fentry/dentry_open"},
		{"fentry/dentry_open", true, "fentry/dentry_open", "", ""},
		{"fentry/d_path", false, "tracing", "fentry/d_path (facts of tracing)", ""},
		{"iter/tcp", true, "", "", "no facts recorded for iter/tcp"},
	}
	v := MustParseVersion("6.12")
	for _, tt := range tests {
		ok, why, p, err := ks.CompatibleAt("bpf_a", tt.where, v)
		if err != nil || ok != tt.ok || p.Key != tt.key || !strings.Contains(why, tt.why) ||
			(tt.note == "") != (p.Note == "") || !strings.Contains(p.Note, tt.note) {
			t.Errorf("%s: ok %v, key %q, why %q, note %q, err %v; want %v, %q, %q, %q", tt.where, ok, p.Key, why, p.Note, err, tt.ok, tt.key, tt.why, tt.note)
		}
	}
	for where, want := range map[string]int{"kprobe": 0, "kprobe.session": 1, "fentry": 0, "fentry/dentry_open": 1} {
		got, err := ks.Available(where, &v)
		if err != nil || len(got) != want {
			t.Errorf("Available(%s) = %d entries, %v; want %d", where, len(got), err, want)
		}
	}
}
