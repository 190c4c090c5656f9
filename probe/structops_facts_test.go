package probe

import (
	"reflect"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/kernelbtf"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// TestStructOpsFacts: the facts record every member of every kind in struct order, with the
// module of a module's kind, whatever variants are loaded at.
func TestStructOpsFacts(t *testing.T) {
	kinds := []kernelbtf.StructOpsKind{
		{Name: "tcp_congestion_ops", Members: []kernelbtf.OpsMember{{Name: "ssthresh", Index: 1}, {Name: "cong_avoid", Index: 2}, {Name: "release", Index: 9}}},
		{Name: "hid_bpf_ops", Module: "hid", Members: []kernelbtf.OpsMember{{Name: "hid_device_event", Index: 3}}},
	}
	want := []observation.StructOpsKind{
		{Kind: "tcp_congestion_ops", Members: []string{"ssthresh", "cong_avoid", "release"}},
		{Kind: "hid_bpf_ops", Module: "hid", Members: []string{"hid_device_event"}},
	}
	if got := structOpsFacts(kinds); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
