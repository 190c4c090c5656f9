package probe

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/section"
)

// TestVariantSections holds every fixed variant's section to what package section reads in it:
// the same program type, expected attach type and sleepable flag (where the section fixes them),
// and a key as registry.AttachPointKey gives it; the keys the attach-point contract names are
// checked by value.
func TestVariantSections(t *testing.T) {
	want := map[string]string{
		"kprobe/kprobe": "kprobe", "kprobe/uprobe.s": "uprobe.s", "kprobe/kprobe.session": "kprobe.session",
		"kprobe/kprobe.multi": "kprobe.multi", "kprobe/uprobe.multi": "uprobe.multi", "kprobe/uprobe.session": "uprobe.session",
		"cgroup_skb/ingress": "cgroup_skb", "cgroup_skb/egress": "cgroup_skb/egress",
		"cgroup_sock_addr/bind4": "cgroup_sock_addr", "cgroup_sock_addr/connect4": "cgroup/connect4",
		"tracing/fentry": "tracing", "tracing/fexit": "fexit", "tracing/fmod_ret": "fmod_ret", "tracing/iter": "iter",
		"tracing/iter.tcp": "iter/tcp", "tracing/iter.udp": "iter/udp", "tracing/tp_btf": "tp_btf",
		"tracing/fentry.dentry_open": "fentry/dentry_open", "tracing/fentry.d_path": "fentry/d_path",
		"tracing/tp_btf.tcp_destroy_sock": "tp_btf/tcp_destroy_sock", "lsm/lsm": "lsm", "lsm/lsm.s": "lsm.s",
		"sched_cls/sched_cls": "sched_cls", "xdp/xdp": "xdp", "ext/ext": "ext", "struct_ops/struct_ops": "struct_ops",
	}
	for _, s := range variantSpecs {
		name := s.progType + "/" + s.name
		t.Run(name, func(t *testing.T) {
			sec, err := section.Parse(s.section)
			if err != nil {
				t.Fatalf("section %q: %v", s.section, err)
			}
			key := registry.AttachPointKey(sec)
			if got := attachPointKey(s.section); got != key || key == "" {
				t.Fatalf("key %q, registry.AttachPointKey says %q", got, key)
			}
			if w, ok := want[name]; ok && key != w {
				t.Errorf("key %q, want %q", key, w)
			}
			if sec.ProgType != s.progType {
				t.Errorf("section %q is of type %s, the variant of %s", s.section, sec.ProgType, s.progType)
			}
			if sec.Sleepable != s.sleepable {
				t.Errorf("section %q sleepable %v, the variant %v", s.section, sec.Sleepable, s.sleepable)
			}
			// uprobe.s loads with the uprobe multi attach type, which is what lets a kprobe program
			// sleep; libbpf's uprobe.s leaves it to the link.
			if sec.AttachType != "" && s.attachType != "" && sec.AttachType != s.attachType {
				t.Errorf("section %q attaches as %s, the variant as %s", s.section, sec.AttachType, s.attachType)
			}
		})
	}
}

// TestHostVariantSections checks, on the running kernel, that every variant's facts carry its
// section's key, struct_ops ones "struct_ops/KIND" for a kind's sentinel, "struct_ops.s/KIND" for
// its sleepable counterpart and "struct_ops/KIND.MEMBER" for a member.
func TestHostVariantSections(t *testing.T) {
	rep := fullHostProbe(t)
	for _, pt := range rep.ProgTypes {
		for _, v := range pt.Variants {
			want := ""
			if s, ok := specNamed(v.Name); ok && pt.Name != "struct_ops" {
				want = attachPointKey(s.section)
			} else {
				kind, member, _ := strings.Cut(v.Target, ".")
				switch {
				case v.Sleepable:
					want = "struct_ops.s/" + kind
				case v.Name == kindName(kind):
					want = "struct_ops/" + kind
				default:
					want = "struct_ops/" + kind + "." + member
				}
			}
			if v.Section != want || want == "" {
				t.Errorf("%s/%s: section %q, want %q", pt.Name, v.Name, v.Section, want)
			}
		}
	}
}

// TestHostStructOpsKinds checks the struct_ops variants against the running kernel's BTF, read
// here on its own: one sentinel per kind (a struct K wrapped as bpf_struct_ops_K's data), and a
// variant per function pointer member of K except the sentinel's, each loaded at its member's
// index; members the kernel refuses a trivial program for are absent, not listed.
func TestHostStructOpsKinds(t *testing.T) {
	rep := fullHostProbe(t)
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	members := map[string][]string{} // kind -> function pointer members, from BTF
	for typ, err := range spec.All() {
		if err != nil {
			t.Fatal(err)
		}
		w, ok := typ.(*btf.Struct)
		if !ok {
			continue
		}
		kind, isWrapper := strings.CutPrefix(w.Name, "bpf_struct_ops_")
		if !isWrapper {
			continue
		}
		for _, m := range w.Members {
			if s, ok := btf.UnderlyingType(m.Type).(*btf.Struct); ok && m.Name == "data" && s.Name == kind {
				members[kind] = funcPointerMembers(s)
			}
		}
	}
	if len(members["tcp_congestion_ops"]) == 0 {
		t.Fatal("the kernel's BTF declares no tcp_congestion_ops kind")
	}
	sentinels := map[string]string{} // kind -> member
	var listed []string
	for _, v := range structOpsVariants(rep) {
		kind, member, _ := strings.Cut(v.Target, ".")
		if !slices.Contains(members[kind], member) {
			t.Errorf("%s: target %s is no function member of a kind of this kernel", v.Name, v.Target)
		}
		if v.Name == kindName(kind) {
			sentinels[kind] = member
		}
		listed = append(listed, v.Target)
	}
	for kind, ms := range members {
		if _, ok := sentinels[kind]; !ok {
			t.Errorf("kind %s has no sentinel variant", kind)
		}
		for _, m := range ms {
			if !slices.Contains(listed, kind+"."+m) {
				t.Logf("%s.%s: no variant (the kernel refuses a trivial program there)", kind, m)
			}
		}
	}
	if sentinels["tcp_congestion_ops"] != "cong_avoid" {
		t.Errorf("tcp_congestion_ops sentinel at %q, want cong_avoid (the tcp_ca variant's member)", sentinels["tcp_congestion_ops"])
	}
}

func funcPointerMembers(s *btf.Struct) []string {
	var out []string
	for _, m := range s.Members {
		if p, ok := btf.UnderlyingType(m.Type).(*btf.Pointer); ok {
			if _, ok := btf.UnderlyingType(p.Target).(*btf.FuncProto); ok {
				out = append(out, m.Name)
			}
		}
	}
	return out
}

func structOpsVariants(rep *observation.Document) []observation.VariantInfo {
	for _, pt := range rep.ProgTypes {
		if pt.Name == "struct_ops" {
			return pt.Variants
		}
	}
	return nil
}

// TestHostAttachPointAnswers checks, with real loads, answers that differ between an attach
// point and its parent, which the scoped variants exist to find. A pair the running kernel lacks
// (its variant or function) skips.
func TestHostAttachPointAnswers(t *testing.T) {
	rep := fullHostProbe(t)
	tests := []struct {
		variant, function string // function: a kfunc, or "#ID" for a helper
		want              []observation.Outcome
	}{
		{"struct_ops/tcp_ca", "#49", offeredOutcomes},
		{"struct_ops/tcp_ca.release", "#49", []observation.Outcome{observation.NotForType}},
		{"kprobe/kprobe.session", "bpf_session_cookie", offeredOutcomes},
		{"kprobe/kprobe", "bpf_session_cookie", []observation.Outcome{observation.NotForType}},
		{"kprobe/uprobe.session", "bpf_session_is_return", offeredOutcomes},
		{"tracing/iter.tcp", "bpf_sock_destroy", offeredOutcomes},
		{"tracing/iter.udp", "bpf_sock_destroy", offeredOutcomes},
		{"tracing/tp_btf.tcp_destroy_sock", "bpf_sock_destroy", []observation.Outcome{observation.NotForType}},
		{"tracing/fentry.dentry_open", "#147", offeredOutcomes},
		{"tracing/fentry.d_path", "#147", []observation.Outcome{observation.NotForTarget}},
		{"struct_ops/bpf_dummy_ops", "bpf_copy_from_user_str", []observation.Outcome{observation.SleepableOnly}},
		{"struct_ops/bpf_dummy_ops.s", "bpf_copy_from_user_str", offeredOutcomes},
		{"struct_ops/Qdisc_ops", "bpf_kfree_skb", offeredOutcomes},
		{"struct_ops/sched_ext_ops", "scx_bpf_dsq_insert", offeredOutcomes},
		{"struct_ops/sched_ext_ops.dispatch", "scx_bpf_dsq_move_to_local", offeredOutcomes},
		{"struct_ops/sched_ext_ops.init", "scx_bpf_dsq_move_to_local", []observation.Outcome{observation.NotForType}},
	}
	for _, tt := range tests {
		t.Run(tt.variant+"/"+tt.function, func(t *testing.T) {
			typ, variant, _ := strings.Cut(tt.variant, "/")
			var got *observation.Result
			for i, r := range rep.Results {
				if r.ProgType == typ && r.Variant == variant && (r.Kfunc == tt.function || r.Kfunc == "" && fmt.Sprintf("#%d", r.HelperID) == tt.function) {
					got = &rep.Results[i]
				}
			}
			if got == nil {
				t.Skipf("no result: this kernel lacks %s or %s", tt.variant, tt.function)
			}
			if !slices.Contains(tt.want, got.Outcome) {
				t.Errorf("%s (%s), want one of %v", got.Outcome, got.Detail, tt.want)
			}
		})
	}
}

var offeredOutcomes = []observation.Outcome{observation.Supported, observation.GPLOnly}

// TestStructOpsSelectors checks the struct_ops selectors: the type selects every kind, a kind
// (or its old alias) that kind with its members, KIND.MEMBER the member with its kind's
// sentinel, and a kind the kernel lacks is refused once the kernel's kinds are known.
func TestStructOpsSelectors(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		selectors []string
		want      []string // variants that must be there
		only      bool     // and no other
		err       error
	}{
		{[]string{"struct_ops"}, []string{"tcp_ca", "tcp_ca.release"}, false, nil},
		{[]string{"struct_ops/tcp_ca"}, []string{"tcp_ca", "tcp_ca.release", "tcp_ca.init"}, false, nil},
		{[]string{"struct_ops/tcp_congestion_ops.release"}, []string{"tcp_ca", "tcp_ca.release"}, true, nil},
		{[]string{"struct_ops/tcp_ca.release", "struct_ops/tcp_ca.init"}, []string{"tcp_ca", "tcp_ca.release", "tcp_ca.init"}, true, nil},
		{[]string{"struct_ops/no_such_ops"}, nil, false, ErrUnknownVariant},
		{[]string{"struct_ops/tcp_ca.no_such_member"}, nil, false, ErrUnknownVariant},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.selectors, ","), func(t *testing.T) {
			if err := CheckSelectors(tt.selectors); err != nil {
				t.Fatalf("CheckSelectors: %v", err)
			}
			p, err := New(nil, Options{ProgTypes: tt.selectors, Helpers: []int{49}})
			if !errors.Is(err, tt.err) {
				t.Fatalf("New: %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			var got []string
			for _, v := range structOpsVariants(&observation.Document{Facts: p.Facts()}) {
				got = append(got, v.Name)
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("variants %v lack %s", got, w)
				}
			}
			if tt.only && len(got) != len(tt.want) {
				t.Errorf("variants %v, want only %v", got, tt.want)
			}
		})
	}
}
