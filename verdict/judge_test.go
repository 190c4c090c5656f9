package verdict

import (
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// TestOverview: the shade of a kernel's cell where one cell stands for all program types is
// decided here: a kernel that knows the id but offers it to no type is not painted offered.
func TestOverview(t *testing.T) {
	r := reg(t, testRegistry)
	for _, tc := range []struct {
		name    string
		k       Kernel
		shade   Shade
		offered int
	}{
		{"offered to both types", kernel("6.1", "6.1.1", "5 socket_filter supported", "5 xdp supported"), ShadeOffered, 2},
		{"offered to one type", kernel("6.1", "6.1.1", "5 socket_filter supported", "5 xdp not_for_type"), ShadeOffered, 1},
		{"known, offered to none", kernel("6.1", "6.1.1", "5 socket_filter not_for_type", "5 xdp not_for_type"), ShadeKnownNoType, 0},
		{"unknown id", kernel("6.1", "6.1.1", "5 socket_filter unknown_id"), ShadeUnknown, 0},
		{"inconclusive", kernel("6.1", "6.1.1", "5 socket_filter inconclusive"), ShadeNoEvidence, 0},
		{"failed kernel", Kernel{Name: "6.1", Version: registry.MustParseVersion("6.1.1"), Failed: true, Error: "panic"}, ShadeFailed, 0},
	} {
		hv := find(t, Judge(r, nil, []Kernel{tc.k}), "ktime_get_ns")
		shade, n := hv.Overview(0)
		if shade != tc.shade || n != tc.offered {
			t.Errorf("%s: overview %c, %d types; want %c, %d", tc.name, shade, n, tc.shade, tc.offered)
		}
	}
}

// TestCellShade: a cell's shade follows its state; conditions make an offer conditional.
func TestCellShade(t *testing.T) {
	for _, tc := range []struct {
		c    Cell
		want Shade
	}{
		{Cell{State: StateOffered}, ShadeOffered},
		{Cell{State: StateOffered, Conditions: []string{string(observation.GPLOnly)}}, ShadeConditional},
		{Cell{State: StateRefused}, ShadeRefused},
		{Cell{State: StateUnknown}, ShadeUnknown},
		{Cell{State: StateNoEvidence}, ShadeNoEvidence},
		{Cell{State: StateFailed}, ShadeFailed},
	} {
		if got := tc.c.Shade(); got != tc.want {
			t.Errorf("%+v: shade %c, want %c", tc.c, got, tc.want)
		}
	}
}

// TestCategoryTravels: helper and kfunc verdicts carry their entry's category.
func TestCategoryTravels(t *testing.T) {
	ks := []Kernel{kernel("6.1", "6.1.1", "192 sched_cls supported")}
	if hv := find(t, Judge(reg(t, testRegistry), nil, ks), "skb_set_tstamp"); hv.Category != "network" {
		t.Errorf("helper category %q, want network", hv.Category)
	}
	table, err := registry.LoadKfuncs("../registry/testdata/kfunc_task.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if kv := JudgeKfuncs(table, ks); len(kv) != 1 || kv[0].Category != "task" {
		t.Errorf("kfunc verdicts %+v, want one of category task", kv)
	}
}
