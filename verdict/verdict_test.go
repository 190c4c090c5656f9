package verdict

import (
	"github.com/bpfmatrix/bpfmatrix/observation"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

const testRegistry = `
- id: 5
  name: ktime_get_ns
  signature: {return: u64, args: []}
  min_kernel: "4.1"
  prog_types: [socket_filter, xdp]
  gpl_only: false
  category: time
  description: Monotonic time.
- id: 125
  name: ktime_get_boot_ns
  signature: {return: u64, args: []}
  min_kernel: "5.8"
  prog_types: [socket_filter, xdp]
  gpl_only: false
  category: time
  description: Boot time.
- id: 192
  name: skb_set_tstamp
  signature: {return: long, args: []}
  min_kernel: "6.1"
  prog_types: [sched_cls]
  gpl_only: false
  category: network
  description: Sets a timestamp.
- id: 200
  name: withdrawn_one
  signature: {return: long, args: []}
  min_kernel: "5.10"
  prog_types: [kprobe]
  prog_type_until: {kprobe: "6.1"}
  gpl_only: true
  category: trace
  description: Offered to kprobes until 6.1.
- id: 212
  name: ktime_get_real_ns
  signature: {return: u64, args: []}
  min_kernel: "6.3"
  prog_types: [socket_filter]
  gpl_only: false
  category: time
  description: An id no kernel defines.
`

func reg(t *testing.T, text string) *registry.Registry {
	t.Helper()
	r, err := registry.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// kernel builds observations: each answer is "id prog_type[/variant] outcome".
func kernel(name, version string, answers ...string) Kernel {
	k := Kernel{Name: name, Version: registry.MustParseVersion(version)}
	for _, a := range answers {
		f := strings.Fields(a)
		var id int
		for _, ch := range f[0] {
			id = id*10 + int(ch-'0')
		}
		pt, variant, _ := strings.Cut(f[1], "/")
		if variant == "" {
			variant = pt
		}
		k.Results = append(k.Results, observation.Result{HelperID: id, ProgType: pt, Variant: variant, Outcome: observation.Outcome(f[2]), Detail: "log line for " + a})
	}
	return k
}

func find(t *testing.T, vs []HelperVerdict, name string) HelperVerdict {
	t.Helper()
	for _, v := range vs {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no verdict for %s", name)
	return HelperVerdict{}
}

func typeVerdict(hv HelperVerdict, pt string) TypeVerdict {
	for _, tv := range hv.Types {
		if tv.ProgType == pt {
			return tv
		}
	}
	return TypeVerdict{}
}

func TestJudge(t *testing.T) {
	r := reg(t, testRegistry)
	k510 := kernel("5.10", "5.10.223",
		"5 socket_filter supported", "5 xdp supported", "5 sched_cls supported",
		"125 socket_filter supported", "125 xdp supported",
		"192 sched_cls unknown_id",
		"200 kprobe gpl_only",
		"212 socket_filter unknown_id")
	k61 := kernel("6.1", "6.1.192",
		"5 socket_filter supported", "5 xdp supported",
		"125 socket_filter supported", "125 xdp supported",
		"192 sched_cls supported",
		"200 kprobe gpl_only",
		"212 socket_filter unknown_id")
	k612 := kernel("6.12", "6.12.117",
		"5 socket_filter supported", "5 xdp supported",
		"125 socket_filter supported", "125 xdp not_for_type",
		"192 sched_cls supported",
		"200 kprobe not_for_type",
		"212 socket_filter unknown_id")
	failed := Kernel{Name: "7.3", Version: registry.MustParseVersion("7.3.4"), Failed: true, Error: "kernel panic"}
	vs := Judge(r, nil, []Kernel{failed, k612, k510, k61})

	tests := []struct {
		helper, progType string // progType "" = existence
		want             Word
		reason           string
	}{
		{"ktime_get_ns", "", Consistent, "older than any kernel tested"},
		{"ktime_get_ns", "xdp", Consistent, ""},
		{"ktime_get_boot_ns", "socket_filter", Consistent, ""},
		{"ktime_get_boot_ns", "xdp", Contradicted, "declared, but refused on 6.12 (xdp: log line for 125 xdp not_for_type)"},
		{"skb_set_tstamp", "", Confirmed, "first offered on 6.1 as declared (6.1); 5.10 refuses it"},
		{"skb_set_tstamp", "sched_cls", Confirmed, ""},
		{"withdrawn_one", "kprobe", Withdrawn, "offered from 5.10 to 6.1"},
		{"ktime_get_real_ns", "", Contradicted, "declared from 6.3, but unknown id on every kernel up to 6.12"},
		{"ktime_get_real_ns", "socket_filter", Contradicted, "unknown"},
		{"ktime_get_ns", "sched_cls", Contradicted, "not declared, but 5.10 offers it"},
	}
	for _, tt := range tests {
		hv := find(t, vs, tt.helper)
		tv := hv.Existence
		if tt.progType != "" {
			tv = typeVerdict(hv, tt.progType)
		}
		if tv.Verdict != tt.want || !strings.Contains(tv.Reason, tt.reason) {
			t.Errorf("%s %s: %s (%s), want %s (~%q)", tt.helper, tt.progType, tv.Verdict, tv.Reason, tt.want, tt.reason)
		}
		// The failed kernel is a cell of its own and never evidence.
		last := tv.Cells[len(tv.Cells)-1]
		if last.Kernel != "7.3" || last.State != StateFailed || last.Contradicts() {
			t.Errorf("%s %s: failed kernel cell %+v", tt.helper, tt.progType, last)
		}
	}
	if hv := find(t, vs, "ktime_get_ns"); hv.Verdict != Contradicted || strings.Join(hv.MissingProgTypes, ",") != "sched_cls" {
		t.Errorf("ktime_get_ns: %s, missing %v", hv.Verdict, hv.MissingProgTypes)
	}
	if hv := find(t, vs, "skb_set_tstamp"); hv.Verdict != Confirmed || len(hv.Problems) != 0 {
		t.Errorf("skb_set_tstamp: %s %v", hv.Verdict, hv.Problems)
	}
	if hv := find(t, vs, "withdrawn_one"); hv.GPL == nil || hv.GPL.Verdict != Confirmed {
		t.Errorf("withdrawn_one gpl: %+v", hv.GPL)
	}
}

func TestIntervalAndTooNew(t *testing.T) {
	r := reg(t, testRegistry)
	// skb_set_tstamp declared 6.1: a 5.10 kernel that offers it contradicts, naming 5.10.
	k510 := kernel("5.10", "5.10.223", "192 sched_cls supported")
	k61 := kernel("6.1", "6.1.192", "192 sched_cls supported")
	hv := find(t, Judge(r, nil, []Kernel{k510, k61}), "skb_set_tstamp")
	if hv.Verdict != Contradicted || !strings.Contains(hv.Existence.Reason, "declared from 6.1, but 5.10 offers it") {
		t.Errorf("too-new entry: %s %v", hv.Verdict, hv.Problems)
	}
	// Declared 5.8, refused on 5.4, offered on 5.10: the interval (5.4, 5.10] holds 5.8.
	k54 := kernel("5.4", "5.4.1", "125 socket_filter unknown_id", "125 xdp unknown_id")
	k510b := kernel("5.10", "5.10.1", "125 socket_filter supported", "125 xdp supported")
	hv = find(t, Judge(r, nil, []Kernel{k54, k510b}), "ktime_get_boot_ns")
	if hv.Verdict != Interval || hv.Existence.After != "5.4" || hv.Existence.Before != "5.10" {
		t.Errorf("interval: %+v", hv.Existence)
	}
}

func TestInconclusiveIsNoEvidence(t *testing.T) {
	r := reg(t, testRegistry)
	// One variant refuses, the other could not load: not a refusal of the type.
	k := kernel("6.12", "6.12.1", "200 kprobe/kprobe not_for_type", "200 kprobe/kprobe.multi inconclusive")
	hv := find(t, Judge(r, nil, []Kernel{k}), "withdrawn_one")
	tv := typeVerdict(hv, "kprobe")
	if tv.Verdict != NoEvidence || tv.Cells[0].State != StateNoEvidence || hv.Verdict == Contradicted {
		t.Errorf("partly inconclusive cell: %s %+v", tv.Verdict, tv.Cells[0])
	}
	// Only failed kernels: no evidence at all.
	hv = find(t, Judge(r, nil, []Kernel{{Name: "x", Version: registry.MustParseVersion("6.1"), Failed: true}}), "ktime_get_ns")
	if hv.Verdict != NoEvidence {
		t.Errorf("failed kernels only: %s", hv.Verdict)
	}
}

func TestGPL(t *testing.T) {
	r := reg(t, testRegistry)
	tests := []struct {
		answers []string
		helper  string
		want    Word
	}{
		{[]string{"5 socket_filter gpl_only"}, "ktime_get_ns", Contradicted},
		{[]string{"200 kprobe supported"}, "withdrawn_one", Contradicted},
		{[]string{"200 lsm supported"}, "withdrawn_one", ""}, // lsm needs GPL anyway: no evidence
		{[]string{"5 socket_filter supported", "5 xdp gpl_only"}, "ktime_get_ns", Consistent},
	}
	for _, tt := range tests {
		hv := find(t, Judge(r, nil, []Kernel{kernel("6.1", "6.1.1", tt.answers...)}), tt.helper)
		got := Word("")
		if hv.GPL != nil {
			got = hv.GPL.Verdict
		}
		if got != tt.want {
			t.Errorf("%v: gpl verdict %q, want %q (%+v)", tt.answers, got, tt.want, hv.GPL)
		}
	}
}

// TestExtInheritsItsTarget: an extension program gets the helpers of the program it replaces, so
// a registry that does not list ext is not contradicted by ext answers; one that lists it is
// judged on them like on any type.
func TestExtInheritsItsTarget(t *testing.T) {
	kernels := []Kernel{
		kernel("5.10", "5.10.262", "5 socket_filter supported", "5 xdp supported", "5 ext supported"),
		kernel("7.3", "7.3.4", "5 socket_filter supported", "5 xdp supported", "5 ext supported"),
	}
	hv := find(t, Judge(reg(t, testRegistry), nil, kernels), "ktime_get_ns")
	if hv.Verdict == Contradicted || len(hv.MissingProgTypes) > 0 {
		t.Errorf("undeclared ext: verdict %s, missing %v, problems %v", hv.Verdict, hv.MissingProgTypes, hv.Problems)
	}
	declared := strings.Replace(testRegistry, "prog_types: [socket_filter, xdp]\n  gpl_only: false\n  category: time\n  description: Monotonic time.",
		"prog_types: [socket_filter, xdp, ext]\n  gpl_only: false\n  category: time\n  description: Monotonic time.", 1)
	kernels[1].Results[2].Outcome = "not_for_type"
	hv = find(t, Judge(reg(t, declared), nil, kernels), "ktime_get_ns")
	if hv.Verdict != Contradicted || !strings.Contains(strings.Join(hv.Problems, "\n"), "ext") {
		t.Errorf("declared ext refused on 7.3: verdict %s, problems %v", hv.Verdict, hv.Problems)
	}
}

// TestKernelConfig: a refusal by a kernel built without an option the entry names is no
// evidence; so is one by a kernel whose config is unknown; a kernel that has the option and
// refuses contradicts.
func TestKernelConfig(t *testing.T) {
	const text = `
- id: 58
  name: override_return
  signature: {return: long, args: []}
  min_kernel: "4.16"
  prog_types: [kprobe]
  gpl_only: true
  kernel_config: [CONFIG_BPF_KPROBE_OVERRIDE]
  category: trace
  description: Overrides a return value.
`
	without := kernel("6.12", "6.12.118", "58 kprobe/kprobe not_for_type")
	without.Config = map[string]bool{"CONFIG_BPF": true}
	unknown := kernel("7.0", "7.0.13", "58 kprobe/kprobe not_for_type")
	with := kernel("7.3", "7.3.4", "58 kprobe/kprobe not_for_type")
	with.Config = map[string]bool{"CONFIG_BPF": true, "CONFIG_BPF_KPROBE_OVERRIDE": true}

	tests := []struct {
		kernels []Kernel
		want    Word
		detail  string
	}{
		{[]Kernel{without}, NoEvidence, "kernel built without CONFIG_BPF_KPROBE_OVERRIDE"},
		{[]Kernel{unknown}, NoEvidence, "config is unknown"},
		{[]Kernel{without, unknown, with}, Contradicted, "not_for_type"},
	}
	for _, tt := range tests {
		hv := find(t, Judge(reg(t, text), nil, tt.kernels), "override_return")
		tv := hv.Types[0]
		cell := tv.Cells[0]
		if tv.Verdict != tt.want || !strings.Contains(cell.Detail+" "+strings.Join(hv.Problems, " "), tt.detail) {
			t.Errorf("%d kernels: verdict %s (cell %q, problems %v); want %s mentioning %q", len(tt.kernels), tv.Verdict, cell.Detail, hv.Problems, tt.want, tt.detail)
		}
	}
}
