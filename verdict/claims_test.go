package verdict

import (
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// withBTF gives a kernel its enum bpf_func_id: ids 1..last, named as names says (others get
// "h<id>"), and BPF_CALL wrapper arguments as wrappers says.
func withBTF(k Kernel, last int, names map[int]string, wrappers map[int][]string) Kernel {
	for id := 1; id <= last; id++ {
		name := names[id]
		if name == "" {
			name = "h" + strings.Repeat("x", id%3)
		}
		d := observation.BTFHelper{ID: id, Name: name}
		if args, ok := wrappers[id]; ok {
			d.Wrapper, d.Args = true, args
		}
		k.Facts.BTFHelperIDs = append(k.Facts.BTFHelperIDs, id)
		k.Facts.BTFHelpers = append(k.Facts.BTFHelpers, d)
	}
	k.Facts.BTFHelperMaxID = last + 1
	return k
}

func entry(t *testing.T, yaml string) *registry.Helper {
	t.Helper()
	r := reg(t, yaml)
	return r.Helpers()[0]
}

const entryTmpl = `
- id: ID
  name: NAME
  signature: {return: long, args: ARGS}
  min_kernel: "5.8"
  prog_types: [xdp]
  gpl_only: false
  category: time
  description: A test entry.
`

func mkEntry(t *testing.T, id, name, args string) *registry.Helper {
	s := strings.NewReplacer("ID", id, "NAME", name, "ARGS", args).Replace(entryTmpl)
	return entry(t, s)
}

// TestIdentity: an entry's id and name against the kernels' enum bpf_func_id.
func TestIdentity(t *testing.T) {
	names := map[int]string{1: "map_lookup_elem", 192: "skb_set_tstamp", 155: "old_last"}
	ks := []Kernel{
		withBTF(kernel("5.10", "5.10.262"), 155, names, nil),
		withBTF(kernel("6.12", "6.12.118"), 211, names, nil),
		withBTF(kernel("7.3", "7.3.4"), 211, names, nil),
	}
	tests := []struct {
		id, name string
		verdict  Word
		want     string
	}{
		{"1", "map_lookup_elem", Confirmed, "id 1 is map_lookup_elem on 5.10..7.3"},
		{"212", "ktime_get_real_ns", Contradicted, "no kernel defines helper id 212: the last id is 155 on 5.10, 211 on 6.12..7.3"},
		{"213", "skb_set_tstamp", Contradicted, "the kernels call skb_set_tstamp id 192 (6.12..7.3), not 213"},
		{"192", "skb_set_timestamp", Contradicted, "the kernels call id 192 skb_set_tstamp (6.12..7.3), not skb_set_timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.id+" "+tt.name, func(t *testing.T) {
			cv := judgeIdentity(mkEntry(t, tt.id, tt.name, "[]"), ks)
			if cv.Verdict != tt.verdict || !strings.Contains(cv.Evidence, tt.want) {
				t.Fatalf("%s: %s; want %s saying %q", cv.Verdict, cv.Evidence, tt.verdict, tt.want)
			}
		})
	}
	// A failed kernel and kernels without BTF names say nothing.
	failed := ks[0]
	failed.Failed = true
	if cv := judgeIdentity(mkEntry(t, "1", "map_lookup_elem", "[]"), []Kernel{failed}); cv.Verdict != NoEvidence {
		t.Errorf("failed kernel only: %s", cv.Verdict)
	}
}

// TestSignature: the number of arguments against the kernels' BPF_CALL wrappers; names,
// variadic declarations and verifier-filled arguments are notes.
func TestSignature(t *testing.T) {
	wrappers := map[int][]string{
		1:   {"map", "key"},
		6:   {"fmt", "fmt_size", "arg1", "arg2", "arg3"},
		170: {"timer", "callback_fn", "aux"},
	}
	names := map[int]string{1: "map_lookup_elem", 6: "trace_printk", 170: "timer_set_callback", 12: "tail_call"}
	ks := []Kernel{withBTF(kernel("7.3", "7.3.4"), 211, names, wrappers)}
	tests := []struct {
		id, name, args string
		verdict        Word
		want           string
	}{
		{"1", "map_lookup_elem", "[{name: map, type: struct bpf_map *}, {name: key, type: const void *}]", Confirmed, "bpf_map_lookup_elem(map, key) on 7.3"},
		{"1", "map_lookup_elem", "[{name: map, type: struct bpf_map *}]", Contradicted, "declares 1 argument(s) (map), the kernels' bpf_map_lookup_elem(map, key) takes 2"},
		{"1", "map_lookup_elem", "[{name: m, type: struct bpf_map *}, {name: k, type: const void *}]", Confirmed, "note: argument 1 is named map in the kernels, m in the entry"},
		{"6", "trace_printk", `[{name: fmt, type: const char *}, {name: fmt_size, type: u32}, {name: "...", type: "..."}]`, Confirmed, "note: declared variadic"},
		{"170", "timer_set_callback", "[{name: timer, type: struct bpf_timer *}, {name: callback_fn, type: void *}]", Confirmed, "note: the kernels' wrapper takes aux, which the verifier fills in"},
		{"12", "tail_call", "[]", NoEvidence, "no kernel implements it through a BPF_CALL wrapper"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.args, func(t *testing.T) {
			cv := judgeSignature(mkEntry(t, tt.id, tt.name, tt.args), ks)
			text := cv.Evidence + " note: " + strings.Join(cv.Notes, " note: ")
			if cv.Verdict != tt.verdict || !strings.Contains(text, tt.want) {
				t.Fatalf("%s: %s; want %s saying %q", cv.Verdict, text, tt.verdict, tt.want)
			}
		})
	}
}

// TestSleepableAndAttach: sleepable_only and attach_types against the variants' answers.
func TestSleepableAndAttach(t *testing.T) {
	variants := []observation.ProgTypeInfo{
		{Name: "tracing", Present: true, Variants: []observation.VariantInfo{
			{Name: "tp_btf", AttachType: "BPF_TRACE_RAW_TP", Usable: true},
			{Name: "iter.s", AttachType: "BPF_TRACE_ITER", Sleepable: true, Usable: true},
			{Name: "fentry", AttachType: "BPF_TRACE_FENTRY", Usable: true},
		}},
	}
	k := func(answers ...string) []Kernel {
		kk := kernel("7.3", "7.3.4", answers...)
		kk.Facts.ProgTypes = variants
		return []Kernel{kk}
	}
	yaml := func(extra string) *registry.Helper {
		return entry(t, `
- id: 148
  name: copy_from_user
  signature: {return: long, args: []}
  min_kernel: "5.10"
  prog_types: [tracing]
  gpl_only: true
  category: probe
  description: A test entry.
`+extra)
	}
	tests := []struct {
		name    string
		h       *registry.Helper
		ks      []Kernel
		claim   func(*registry.Helper, []Kernel) ClaimVerdict
		verdict Word
	}{
		{"sleepable declared and seen", yaml("  sleepable_only: true\n"), k("148 tracing/tp_btf sleepable_only", "148 tracing/iter.s supported"), sleep, Confirmed},
		{"sleepable missing", yaml(""), k("148 tracing/tp_btf sleepable_only", "148 tracing/iter.s supported"), sleep, Contradicted},
		{"sleepable declared, plain offer", yaml("  sleepable_only: true\n"), k("148 tracing/tp_btf supported"), sleep, Contradicted},
		{"attach listed and offered", yaml("  attach_types: [trace_fentry]\n"), k("148 tracing/fentry supported", "148 tracing/tp_btf not_for_type"), attach, Confirmed},
		{"attach unlisted but offered", yaml("  attach_types: [trace_fentry]\n"), k("148 tracing/fentry supported", "148 tracing/tp_btf supported"), attach, Contradicted},
		{"attach listed but refused", yaml("  attach_types: [trace_fentry]\n"), k("148 tracing/fentry not_for_type"), attach, Contradicted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cv := tt.claim(tt.h, tt.ks)
			if cv.Verdict != tt.verdict {
				t.Fatalf("%s: %s; want %s", cv.Verdict, cv.Evidence, tt.verdict)
			}
		})
	}
}

func sleep(h *registry.Helper, ks []Kernel) ClaimVerdict {
	return judgeSleepable(h, ks, index(ks))
}

func attach(h *registry.Helper, ks []Kernel) ClaimVerdict {
	cv, _ := judgeAttachTypes(h, ks, index(ks))
	return cv
}

// TestFindings: a reason shared by every program type is one finding.
func TestFindings(t *testing.T) {
	r := reg(t, testRegistry)
	ks := []Kernel{withBTF(kernel("7.3", "7.3.4", "212 socket_filter unknown_id", "212 xdp unknown_id"), 211, nil, nil)}
	for _, hv := range Judge(r, nil, ks) {
		if hv.ID != 212 {
			continue
		}
		if len(hv.Findings) != 2 || !strings.Contains(hv.Findings[1].String(), "id and name: no kernel defines helper id 212") {
			t.Fatalf("findings %v", hv.Findings)
		}
		return
	}
	t.Fatal("no verdict for 212")
}

// TestCompactList: the two ways evidence names a list never print an empty one.
func TestCompactList(t *testing.T) {
	tests := []struct {
		items       []string
		span, first string
	}{
		{nil, "no kernel", "none"},
		{[]string{"6.12"}, "6.12", "6.12"},
		{[]string{"5.10", "6.1", "7.3"}, "5.10..7.3", "5.10 (and 2 more)"},
	}
	for _, tt := range tests {
		if span, first := kernelSpan(tt.items), firstAndCount(tt.items); span != tt.span || first != tt.first {
			t.Errorf("%q: kernelSpan %q, firstAndCount %q; want %q, %q", tt.items, span, first, tt.span, tt.first)
		}
	}
}
