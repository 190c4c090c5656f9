package proposal

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

// opsKernel is a kernel whose document records kinds, read back from its JSON as sync reads a
// saved document.
func opsKernel(t *testing.T, name, version string, failed bool, kinds ...observation.StructOpsKind) verdict.Kernel {
	t.Helper()
	data, err := observation.Encode(&observation.Document{Facts: observation.Facts{StructOps: kinds}})
	if err != nil {
		t.Fatal(err)
	}
	var d observation.Document
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return verdict.Kernel{Name: name, Version: registry.MustParseVersion(version), Failed: failed, Facts: d.Facts}
}

func kind(name, module string, members ...string) observation.StructOpsKind {
	return observation.StructOpsKind{Kind: name, Module: module, Members: members}
}

// TestProposeStructOps: sync proposes each member's first and last series from the kernels'
// records; failed kernels and kernels without a record say nothing, and the existing table's
// facts stand outside the series the kernels cover.
func TestProposeStructOps(t *testing.T) {
	existing, err := registry.ParseStructOps("old.yaml", []byte(`
- kind: sched_ext_ops
  members:
    enqueue: {since: "6.12"}
    dispatch: {since: "6.12"}
- kind: bpf_dummy_ops
  members:
    test_1: {since: "6.1"}
`))
	if err != nil {
		t.Fatal(err)
	}
	kernels := []verdict.Kernel{
		opsKernel(t, "7.3", "7.3.4", false, kind("sched_ext_ops", "", "enqueue", "dispatch", "cgroup_set_idle"), kind("hid_bpf_ops", "hid", "hid_device_event")),
		opsKernel(t, "6.16", "6.16.12", false, kind("sched_ext_ops", "", "enqueue", "dispatch", "old_member"), kind("tcp_congestion_ops", "", "cong_avoid")),
		opsKernel(t, "7.0", "7.0.13", false, kind("sched_ext_ops", "", "enqueue", "dispatch", "old_member")),
		opsKernel(t, "7.1", "7.1.1", true, kind("sched_ext_ops", "", "enqueue", "dispatch", "cgroup_set_idle")), // failed: says nothing
		opsKernel(t, "5.10", "5.10.262", false), // no record: says nothing
	}
	got := string(FormatStructOps(StructOps(existing, kernels, "new.yaml")))
	want := `- kind: bpf_dummy_ops
  members:
    test_1: {since: "6.1"}
- kind: hid_bpf_ops
  module: hid
  members:
    hid_device_event: {since: "7.3"}
- kind: sched_ext_ops
  members:
    enqueue: {since: "6.12"}
    dispatch: {since: "6.12"}
    cgroup_set_idle: {since: "7.3"}
    old_member: {since: "6.16", until: "7.0"}
- kind: tcp_congestion_ops
  members:
    cong_avoid: {since: "6.16", until: "6.16"}
`
	if !strings.HasSuffix(got, want) {
		t.Fatalf("proposed:\n%s\nwant it to end with:\n%s", got, want)
	}
	back, err := registry.ParseStructOps("new.yaml", []byte(got))
	if err != nil || string(FormatStructOps(back)) != got {
		t.Fatalf("the proposal does not read back as itself: %v", err)
	}
	if none := FormatStructOps(StructOps(nil, nil, "x.yaml")); !strings.HasSuffix(string(none), "\n[]\n") {
		t.Errorf("no kernels, no table: %q", none)
	}
	if _, err := registry.ParseStructOps("x.yaml", FormatStructOps(StructOps(nil, nil, "x.yaml"))); err != nil {
		t.Errorf("an empty proposal does not read back: %v", err)
	}
}
