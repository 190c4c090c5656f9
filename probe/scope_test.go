package probe

import (
	"slices"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// TestScopePlan checks the choices of the scoped variants from given answers: the targets get
// the not_for_target helpers and the kfuncs nobody offers or the type splits on; a kind's
// members get its canaries, and all its own functions only when a member answers differently.
func TestScopePlan(t *testing.T) {
	usable := func(s *variantSpec) *variant { return &variant{spec: s, info: observation.VariantInfo{Usable: true}} }
	base := usable(&variantSpec{progType: "socket_filter", name: "socket_filter"})
	iter := usable(&variantSpec{progType: "tracing", name: "iter"})
	tp := usable(&variantSpec{progType: "tracing", name: "tp_btf"})
	target := usable(&variantSpec{progType: "tracing", name: "iter.udp", helpers: scopeTarget, kfuncs: scopeTarget})
	sentinel := usable(&variantSpec{progType: "struct_ops", name: "k", kind: "k", sentinel: true})
	m1 := usable(&variantSpec{progType: "struct_ops", name: "k.a", kind: "k", helpers: scopeMember, kfuncs: scopeMember})
	m2 := usable(&variantSpec{progType: "struct_ops", name: "k.b", kind: "k", helpers: scopeMember, kfuncs: scopeMember})
	const (
		common   = iota // offered everywhere
		iterOnly        // offered to iter, refused to tp_btf
		nobody          // offered nowhere
		kindA           // the kind's own, refused at member b
		kindB           // the kind's own
		tpTarget        // not_for_target at tp_btf
	)
	no, yes, nft := observation.NotForType, observation.Supported, observation.NotForTarget
	answers := map[*variant][]observation.Outcome{
		base:     {yes, no, no, no, no, no},
		iter:     {yes, yes, no, no, no, no},
		tp:       {yes, no, no, no, no, nft},
		sentinel: {yes, no, no, yes, yes, no},
	}
	names := []string{"bpf_common", "bpf_iter_only", "scx_bpf_nobody", "scx_bpf_a", "scx_bpf_b", "bpf_target"}
	sp := scopePlan{
		variants: []*variant{base, iter, tp, target, sentinel, m1, m2},
		funcs:    []int{common, iterOnly, nobody, kindA, kindB, tpTarget},
		answer: func(v *variant, f int) (observation.Outcome, bool) {
			if a, ok := answers[v]; ok {
				return a[f], true
			}
			return "", false
		},
		names: func(f int) string { return names[f] },
	}
	first := sp.firstStage(func(v *variant) scope { return v.spec.kfuncs }, true)
	want := map[*variant][]int{target: {iterOnly, nobody, tpTarget}, m1: {nobody, kindA, kindB}, m2: {nobody, kindA, kindB}}
	for _, a := range first {
		if !slices.Equal(a.funcs, want[a.v]) {
			t.Errorf("first stage: %s asked %v, want %v", a.v.spec.name, a.funcs, want[a.v])
		}
	}
	if len(first) != len(want) {
		t.Errorf("first stage asks %d variants, want %d", len(first), len(want))
	}
	// Members answering their canaries like the sentinel: nothing more to ask.
	answers[m1] = []observation.Outcome{"", "", no, yes, yes, ""}
	answers[m2] = []observation.Outcome{"", "", no, yes, yes, ""}
	sp.answer = func(v *variant, f int) (observation.Outcome, bool) {
		a, ok := answers[v]
		if !ok || a[f] == "" {
			return "", false
		}
		return a[f], true
	}
	if asks := sp.memberStage(1, true); len(asks) != 0 {
		t.Errorf("members answering like the sentinel asked again: %v", asks)
	}
	// Both members refuse kindA: one group, whose first member is asked the kind's own
	// functions it was not asked, and whose second the functions the first answered
	// otherwise than the sentinel.
	answers[m1][kindA], answers[m2][kindA] = no, no
	answers[m1][kindB], answers[m2][kindB] = "", ""
	asks := sp.memberStage(1, true)
	if len(asks) != 1 || asks[0].v != m1 || !slices.Equal(asks[0].funcs, []int{kindB}) {
		t.Fatalf("stage 1 %v, want k.a asked kindB", asks)
	}
	answers[m1][kindB] = no
	asks = sp.memberStage(2, true)
	if len(asks) != 1 || asks[0].v != m2 || !slices.Equal(asks[0].funcs, []int{kindB}) {
		t.Errorf("stage 2 %v, want k.b asked kindB (kindA it answered as a canary)", asks)
	}
}

// TestSpread checks that canaries are spread over the list, first included, and capped.
func TestSpread(t *testing.T) {
	tests := []struct {
		fs   []int
		n    int
		want []int
	}{
		{[]int{1, 2, 3}, 8, []int{1, 2, 3}},
		{[]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 5, []int{0, 2, 4, 6, 8}},
		{nil, 8, nil},
	}
	for _, tt := range tests {
		if got := spread(tt.fs, tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("spread(%v, %d) = %v, want %v", tt.fs, tt.n, got, tt.want)
		}
	}
}
