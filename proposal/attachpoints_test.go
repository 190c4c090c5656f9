package proposal

import (
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/registry/yamledit"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// variant is one attach variant of a test kernel: its program type, name, attach point key and
// target, and whether the kernel loaded it.
type variant struct {
	progType, name, section, target string
	usable                          bool
}

// sectionKernel is a kernel whose probe loaded the variants given (all in their program type's
// facts) and answered "fn variant outcome" for the kfuncs or helpers (a number) named.
func sectionKernel(name, version string, has []string, vs []variant, answers ...string) verdict.Kernel {
	k := verdict.Kernel{Name: name, Version: registry.MustParseVersion(version)}
	for _, h := range has {
		k.Facts.Kfuncs = append(k.Facts.Kfuncs, observation.Kfunc{Name: h, Prototype: "int " + h + "(void)", Tagged: true})
	}
	types := map[string]string{}
	for _, v := range vs {
		types[v.name] = v.progType
		info := observation.VariantInfo{Name: v.name, Section: v.section, Target: v.target, Usable: v.usable}
		i := len(k.Facts.ProgTypes) - 1
		if i < 0 || k.Facts.ProgTypes[i].Name != v.progType {
			k.Facts.ProgTypes = append(k.Facts.ProgTypes, observation.ProgTypeInfo{Name: v.progType, Present: true})
			i++
		}
		k.Facts.ProgTypes[i].Variants = append(k.Facts.ProgTypes[i].Variants, info)
	}
	for _, a := range answers {
		f := strings.Fields(a)
		r := observation.Result{ProgType: types[f[1]], Variant: f[1], Outcome: observation.Outcome(f[2]), Detail: f[2] + " on " + name}
		if id := 0; strings.Trim(f[0], "0123456789") == "" {
			for _, ch := range f[0] {
				id = id*10 + int(ch-'0')
			}
			r.HelperID = id
		} else {
			r.Kfunc = f[0]
		}
		k.Results = append(k.Results, r)
	}
	return k
}

// sessionKernels: bpf_session_cookie is refused to kprobes attached as plain kprobes and
// offered at kprobe.session, which 6.1 lacks (its variant does not load) and whose kfunc 6.1
// does not have.
func sessionKernels() []verdict.Kernel {
	vs := func(session bool) []variant {
		return []variant{{"kprobe", "kprobe", "kprobe", "bpf_fentry_test1", true}, {"kprobe", "kprobe.session", "kprobe.session", "bpf_fentry_test1", session}}
	}
	return []verdict.Kernel{
		sectionKernel("6.1", "6.1.192", []string{"bpf_other"}, vs(false), "bpf_other kprobe supported", "bpf_other kprobe.session inconclusive"),
		sectionKernel("6.12", "6.12.118", []string{"bpf_other", "bpf_session_cookie"}, vs(true),
			"bpf_other kprobe supported", "bpf_other kprobe.session supported",
			"bpf_session_cookie kprobe not_for_type", "bpf_session_cookie kprobe.session supported"),
		sectionKernel("7.3", "7.3.4", []string{"bpf_other", "bpf_session_cookie"}, vs(true),
			"bpf_other kprobe supported", "bpf_other kprobe.session supported",
			"bpf_session_cookie kprobe not_for_type", "bpf_session_cookie kprobe.session supported"),
	}
}

// scxKernels: scx_bpf_dsq_insert at the struct_ops kinds' sentinels and at sched_ext_ops's
// enqueue member, filtered by member from 7.1.
func scxKernels() []verdict.Kernel {
	vs := []variant{
		{"struct_ops", "tcp_congestion_ops", "struct_ops/tcp_congestion_ops", "tcp_congestion_ops.cong_avoid", true},
		{"struct_ops", "sched_ext_ops", "struct_ops/sched_ext_ops", "sched_ext_ops.select_cpu", true},
		{"struct_ops", "sched_ext_ops.enqueue", "struct_ops/sched_ext_ops.enqueue", "sched_ext_ops.enqueue", true},
	}
	k := func(name, version, sentinel string) verdict.Kernel {
		return sectionKernel(name, version, []string{"scx_bpf_dsq_insert"}, vs, "scx_bpf_dsq_insert tcp_congestion_ops not_for_type",
			"scx_bpf_dsq_insert sched_ext_ops "+sentinel, "scx_bpf_dsq_insert sched_ext_ops.enqueue supported")
	}
	return []verdict.Kernel{k("6.16", "6.16.12", "supported"), k("7.0", "7.0.13", "supported"), k("7.1", "7.1.13", "not_for_type"), k("7.3", "7.3.4", "not_for_type")}
}

// scopedKernels: scx_bpf_dsq_move_to_local, offered from 7.1 only at sched_ext_ops's dispatch
// member. The probe loads the member on every kernel but asks it the kfunc only where the kind
// filters by member (7.1 on): before, the member answers as its kind's sentinel.
func scopedKernels() []verdict.Kernel {
	vs := []variant{
		{"struct_ops", "sched_ext_ops", "struct_ops/sched_ext_ops", "sched_ext_ops.select_cpu", true},
		{"struct_ops", "sched_ext_ops.dispatch", "struct_ops/sched_ext_ops.dispatch", "sched_ext_ops.dispatch", true},
	}
	const fn = "scx_bpf_dsq_move_to_local"
	before := func(name, version string) verdict.Kernel {
		return sectionKernel(name, version, []string{fn}, vs, fn+" sched_ext_ops supported")
	}
	after := func(name, version string) verdict.Kernel {
		return sectionKernel(name, version, []string{fn}, vs, fn+" sched_ext_ops not_for_type", fn+" sched_ext_ops.dispatch supported")
	}
	return []verdict.Kernel{before("6.16", "6.16.12"), before("7.0", "7.0.13"), after("7.1", "7.1.13"), after("7.3", "7.3.4")}
}

// TestProposeKfuncAttachPoints: an attach point is recorded where it answers otherwise than
// its parent, with since/until/gaps and evidence from the kernels; the file written loads, and
// the CLI's questions get the kernels' answers from it; a second sync changes nothing.
func TestProposeKfuncAttachPoints(t *testing.T) {
	tests := []struct {
		name   string
		ks     []verdict.Kernel
		kfunc  string
		points string
		// questions "WHERE VERSION" -> whether the proposed table offers it there.
		questions map[string]bool
	}{
		{"session", sessionKernels(), "bpf_session_cookie",
			`kprobe: not offered (evidence: probe: refused on 6.12..7.3 at kprobe (bpf_fentry_test1); the program type kprobe: offered on 6.12..7.3)`,
			map[string]bool{"kprobe 6.12": false, "kprobe.session 6.12": true, "kprobe/do_unlinkat 7.3": false}},
		{"sched_ext", scxKernels(), "scx_bpf_dsq_insert",
			`struct_ops/sched_ext_ops: until 7.0 (evidence: probe: offered on 6.16..7.0, refused on 7.1..7.3 at struct_ops/sched_ext_ops (sched_ext_ops.select_cpu); the program type struct_ops: offered on 6.16..7.3); ` +
				`struct_ops/sched_ext_ops.enqueue: offered (evidence: probe: offered on 6.16..7.3 at struct_ops/sched_ext_ops.enqueue; struct_ops/sched_ext_ops: offered on 6.16..7.0, refused on 7.1..7.3); ` +
				`struct_ops/tcp_congestion_ops: not offered (evidence: probe: refused on 6.16..7.3 at struct_ops/tcp_congestion_ops (tcp_congestion_ops.cong_avoid); the program type struct_ops: offered on 6.16..7.3)`,
			map[string]bool{"struct_ops/sched_ext_ops.enqueue 7.3": true, "struct_ops/tcp_congestion_ops.cong_avoid 7.3": false,
				"struct_ops/sched_ext_ops.dispatch 7.3": false, "struct_ops/sched_ext_ops.dispatch 6.16": true, "struct_ops 7.3": true}},
		{"scoped member", scopedKernels(), "scx_bpf_dsq_move_to_local",
			`struct_ops/sched_ext_ops: until 7.0 (evidence: probe: offered on 6.16..7.0, refused on 7.1..7.3 at struct_ops/sched_ext_ops (sched_ext_ops.select_cpu); the program type struct_ops: offered on 6.16..7.3); ` +
				`struct_ops/sched_ext_ops.dispatch: offered (evidence: probe: offered on 7.1..7.3 at struct_ops/sched_ext_ops.dispatch; struct_ops/sched_ext_ops: refused on 7.1..7.3)`,
			map[string]bool{"struct_ops/sched_ext_ops.dispatch 6.16": true, "struct_ops/sched_ext_ops.dispatch 7.1": true,
				"struct_ops/sched_ext_ops.enqueue 7.1": false, "struct_ops/sched_ext_ops.enqueue 7.0": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := Kfuncs(nil, tt.ks)
			var k *registry.Kfunc
			for _, e := range got {
				if e.Name == tt.kfunc {
					k = e
				}
			}
			if k == nil || keyedText(k.AttachPoints, "; ") != tt.points {
				t.Fatalf("attach points of %s:\n%s\nwant\n%s", tt.kfunc, keyedText(k.AttachPoints, "; "), tt.points)
			}
			table, _ := confirmedTable(t, got, tt.ks)
			for q, want := range tt.questions {
				where, version, _ := strings.Cut(q, " ")
				ok, why, _, err := table.CompatibleAt(tt.kfunc, where, registry.MustParseVersion(version))
				if err != nil || ok != want {
					t.Errorf("%s at %s: %v (%s), %v; want %v", tt.kfunc, q, ok, why, err, want)
				}
			}
			file := yamledit.MarshalKfuncs(got)
			if out := syncKfuncFile(t, file, tt.ks); string(out) != string(file) {
				t.Errorf("a second sync changed the file:\n%s", out)
			}
		})
	}
}

// TestAttachPointsKeptWithoutSections: observations of agents that predate attach points name
// no section; a sync from them keeps the attach points recorded, and proposes none.
func TestAttachPointsKeptWithoutSections(t *testing.T) {
	ks := sessionKernels()
	for i := range ks {
		for j := range ks[i].Facts.ProgTypes {
			for v := range ks[i].Facts.ProgTypes[j].Variants {
				ks[i].Facts.ProgTypes[j].Variants[v].Section = ""
			}
		}
	}
	got, _ := Kfuncs(nil, ks)
	for _, k := range got {
		if len(k.AttachPoints) > 0 {
			t.Errorf("%s: attach points %v from documents without sections", k.Name, k.AttachPoints)
		}
	}
	got[1].AttachPoints = map[string]registry.AttachPoint{"kprobe": {Refused: true, Evidence: "a person's"}}
	again, changes := Kfuncs(table2(t, got), ks)
	if keyedText(again[1].AttachPoints, "; ") != "kprobe: not offered (evidence: a person's)" || changes[1].Kind != Unchanged {
		t.Errorf("recorded attach points not kept: %v %v", again[1].AttachPoints, changes[1])
	}
}

// TestProposeHelperAttachPoints: the helper d_path is refused for fentry/d_path's target and
// offered at fentry/dentry_open and, for some targets, at the generic tracing variant: only
// fentry/d_path answers otherwise than its parent. The change is written into the file in place.
func TestProposeHelperAttachPoints(t *testing.T) {
	vs := []variant{
		{"tracing", "fentry", "tracing", "bpf_fentry_test1", true},
		{"tracing", "fentry_dentry_open", "fentry/dentry_open", "dentry_open", true},
		{"tracing", "fentry_d_path", "fentry/d_path", "d_path", true},
	}
	var ks []verdict.Kernel
	for _, sk := range syncKernels[2:] {
		ks = append(ks, sectionKernel(sk.name, sk.version, nil, vs, "100 fentry not_for_target", "100 fentry_dentry_open supported", "100 fentry_d_path not_for_target"))
	}
	data := []byte(entry("  min_kernel: \"5.10\"\n  prog_types: [tracing]\n"))
	reg := testenv.Must(registry.Parse("helpers.yaml", data))(t)
	updated, changes := Helpers(reg, ks)
	if len(updated) != 1 || len(changes) != 1 {
		t.Fatalf("updated %d, changes %v", len(updated), changes)
	}
	c := changes[0]
	if c.Key != "attach_points" || c.AttachPoint != "fentry/d_path" || !strings.HasPrefix(c.String(), `bpf_probe_me (100) attach_points.fentry/d_path: (none) -> "not offered (evidence: probe: refused on 6.12..7.3 at fentry/d_path; the program type tracing: offered on 6.12..7.3)"`) {
		t.Errorf("change %s", c)
	}
	out := testenv.Must(yamledit.UpdateHelpers("helpers.yaml", data, updated))(t)
	want := "  attach_points:\n    fentry/d_path: {offered: false, evidence: \"probe: refused on 6.12..7.3 at fentry/d_path; the program type tracing: offered on 6.12..7.3\"}\n"
	if !strings.Contains(string(out), want) {
		t.Errorf("written file lacks %q:\n%s", want, out)
	}
	after := testenv.Must(registry.Parse("helpers.yaml", out))(t)
	for q, ok := range map[string]bool{"fentry/d_path": false, "fentry/dentry_open": true, "fentry": true} {
		if c, err := after.CheckAt("probe_me", q, registry.MustParseVersion("7.3")); err != nil || c.OK != ok {
			t.Errorf("%s: %+v %v, want %v", q, c, err, ok)
		}
	}
	if _, again := Helpers(after, ks); len(again) != 0 {
		t.Errorf("a second sync proposes %v", again)
	}
}
