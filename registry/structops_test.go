package registry

import (
	"strings"
	"testing"
)

// TestFaultStructOps: every fault of a struct_ops file is refused with its file and line.
func TestFaultStructOps(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"not a sequence", "kind: x\n", "structops.yaml:1: want a YAML sequence of struct_ops kinds, found a mapping"},
		{"unknown key", "- kind: a\n  members: {m: {since: \"6.1\"}}\n  modul: x\n", "structops.yaml:3: unknown key \"modul\" (known: kind, members, module)"},
		{"missing members", "- kind: a\n", "structops.yaml:1: struct_ops kind is missing required key \"members\""},
		{"missing kind", "- members: {m: {since: \"6.1\"}}\n", "structops.yaml:1: struct_ops kind is missing required key \"kind\""},
		{"duplicate kind", "- kind: a\n  members: {m: {since: \"6.1\"}}\n- kind: a\n  members: {n: {since: \"6.1\"}}\n", "structops.yaml:3: duplicate kind \"a\" (first at line 1)"},
		{"duplicate member", "- kind: a\n  members:\n    m: {since: \"6.1\"}\n    m: {since: \"6.2\"}\n", "structops.yaml:4: members: duplicate key \"m\""},
		{"no members", "- kind: a\n  members: {}\n", "structops.yaml:2: members: a kind has at least one member"},
		{"member without since", "- kind: a\n  members:\n    m: {until: \"6.1\"}\n", "structops.yaml:3: member m: missing required key \"since\""},
		{"unknown member key", "- kind: a\n  members:\n    m: {since: \"6.1\", util: \"6.2\"}\n", "structops.yaml:3: member m: unknown key \"util\" (known: since, until)"},
		{"unquoted version", "- kind: a\n  members:\n    m: {since: 6.10}\n", "structops.yaml:3: member m: since: write versions as quoted strings"},
		{"bad version", "- kind: a\n  members:\n    m: {since: \"six\"}\n", "structops.yaml:3: member m: since:"},
		{"patch level", "- kind: a\n  members:\n    m: {since: \"6.1.5\"}\n", "structops.yaml:3: member m: since: 6.1.5: write a release series"},
		{"until before since", "- kind: a\n  members:\n    m: {since: \"6.12\", until: \"6.1\"}\n", "structops.yaml:3: member m: until 6.1 is older than since 6.12"},
		{"bad kind name", "- kind: \"a-b\"\n  members: {m: {since: \"6.1\"}}\n", "structops.yaml:1: kind \"a-b\": want a C identifier"},
		{"bad member name", "- kind: a\n  members:\n    \"m n\": {since: \"6.1\"}\n", "structops.yaml:3: member \"m n\": want a C identifier"},
		{"member not a mapping", "- kind: a\n  members:\n    m: \"6.1\"\n", "structops.yaml:3: member m: want a mapping, found the value \"6.1\""},
		{"two documents", "[]\n---\n[]\n", "structops.yaml:2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseStructOps("structops.yaml", []byte(tt.text))
			wantLineError(t, err, tt.want)
		})
	}
}

// structOpsTable is a small table with a member that came late and one that went away.
const structOpsTable = `# comment
- kind: sched_ext_ops
  members:
    enqueue: {since: "6.16"}
    cgroup_set_idle: {since: "7.3"}
    gone: {since: "6.16", until: "6.19"}
- kind: hid_bpf_ops
  module: hid
  members:
    hid_device_event: {since: "6.12"}
`

// TestStructOpsCheck: a question naming a struct_ops kind or member is checked against the
// table: unknown ones are errors naming the known ones, a kernel outside a member's series says
// so, and any other question, or an empty table, passes unchecked.
func TestStructOpsCheck(t *testing.T) {
	ops, err := ParseStructOps("structops.yaml", []byte(structOpsTable))
	if err != nil {
		t.Fatal(err)
	}
	empty, err := ParseStructOps("empty.yaml", []byte("# nothing yet\n"))
	if err != nil || !empty.Empty() {
		t.Fatalf("a file of comments: %v, %v", empty, err)
	}
	tests := []struct {
		table          *StructOps
		where, kernel  string
		ok             bool
		why, errSubstr string
	}{
		{ops, "struct_ops/sched_ext_ops.enqueue", "7.3", true, "", ""},
		{ops, "struct_ops/sched_ext_ops.enqueue", "6.16.3", true, "", ""},
		{ops, "struct_ops/sched_ext_ops.enqueue", "6.12", false, "sched_ext_ops.enqueue reached the kernels in 6.16, so 6.12 has no such struct_ops member", ""},
		{ops, "struct_ops/sched_ext_ops.cgroup_set_idle", "7.2", false, "sched_ext_ops.cgroup_set_idle reached the kernels in 7.3", ""},
		{ops, "struct_ops/sched_ext_ops.gone", "7.0", false, "sched_ext_ops.gone left the kernels after 6.19", ""},
		{ops, "struct_ops/sched_ext_ops.gone", "6.19", true, "", ""},
		{ops, "struct_ops.s/sched_ext_ops.enqueue", "6.12", false, "reached the kernels in 6.16", ""},
		{ops, "struct_ops/sched_ext_ops", "6.12", false, "sched_ext_ops reached the kernels in 6.16, so 6.12 has no such struct_ops kind", ""},
		{ops, "struct_ops/sched_ext_ops", "7.3", true, "", ""},
		{ops, "struct_ops/hid_bpf_ops.hid_device_event", "6.12", true, "", ""},
		{ops, "struct_ops/sched_ext_ops.nosuch", "7.3", false, "", "sched_ext_ops has no member nosuch (members: enqueue, cgroup_set_idle, gone)"},
		{ops, "struct_ops/sched_ext_ops.nosuch", "", false, "", "has no member nosuch"},
		{ops, "struct_ops/nosuch_ops.enqueue", "7.3", false, "", "no kernel registers a struct_ops kind nosuch_ops (kinds: hid_bpf_ops, sched_ext_ops)"},
		{ops, "struct_ops/nosuch_ops", "7.3", false, "", "struct_ops kind nosuch_ops"},
		{ops, "struct_ops", "5.10", true, "", ""},
		{ops, "kprobe.session", "5.10", true, "", ""},
		{ops, "struct_ops/sched_ext_ops.", "7.3", true, "", ""}, // malformed: Locate refuses it
		{empty, "struct_ops/sched_ext_ops.nosuch", "7.3", true, "", ""},
		{nil, "struct_ops/sched_ext_ops.nosuch", "7.3", true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.where+"@"+tt.kernel, func(t *testing.T) {
			var v Version
			if tt.kernel != "" {
				v = MustParseVersion(tt.kernel)
			}
			ok, why, err := tt.table.Check(tt.where, v)
			if (err != nil) != (tt.errSubstr != "") || err != nil && !strings.Contains(err.Error(), tt.errSubstr) {
				t.Fatalf("error %v, want one with %q", err, tt.errSubstr)
			}
			if ok != tt.ok || !strings.Contains(why, tt.why) || (why == "") != (tt.why == "") {
				t.Errorf("ok %v, why %q; want %v, %q", ok, why, tt.ok, tt.why)
			}
		})
	}
}

// TestDefaultStructOps: the embedded table loads and holds what the kernels' BTF showed for the
// kinds the issue names (the cached images of kernels.lock: Debian's builds).
func TestDefaultStructOps(t *testing.T) {
	ops, err := DefaultStructOps()
	if err != nil {
		t.Fatal(err)
	}
	for _, where := range []string{"struct_ops/sched_ext_ops.enqueue", "struct_ops/sched_ext_ops.dispatch", "struct_ops/Qdisc_ops.enqueue", "struct_ops/tcp_congestion_ops.cong_avoid"} {
		if ok, why, err := ops.Check(where, MustParseVersion("7.3")); !ok || err != nil {
			t.Errorf("%s on 7.3: %v %q %v", where, ok, why, err)
		}
	}
	if ok, _, err := ops.Check("struct_ops/Qdisc_ops.enqueue", MustParseVersion("6.16")); ok || err != nil {
		t.Errorf("Qdisc_ops.enqueue on 6.16: %v, %v; Debian's builds have it from 6.17", ok, err)
	}
}

// FuzzStructOps feeds the structops.yaml loader arbitrary bytes (see fuzzTable): a table it
// returns has unique kinds, each with members of since no later than until, and reads back
// the same from its own listing.
func FuzzStructOps(f *testing.F) {
	fuzzTable(f, ParseStructOps, checkLoadedStructOps, embeddedStructOps, []byte(structOpsTable), []byte("[]\n"), []byte("# x\n"),
		[]byte("- kind: a\n  members: {m: {since: \"6.1\", until: \"6.2\"}}\n"), []byte("- kind: a\n  members: {m: [\n"))
}

// checkLoadedStructOps fails t when ops breaks a promise of the loader.
func checkLoadedStructOps(t *testing.T, ops *StructOps) {
	seen := map[string]bool{}
	for _, k := range ops.Kinds() {
		if seen[k.Name] || len(k.Members) == 0 {
			t.Fatalf("kind %q duplicated or without members", k.Name)
		}
		seen[k.Name] = true
		if got, ok := ops.Kind(k.Name); !ok || got != k {
			t.Fatalf("kind %q not found by name", k.Name)
		}
		for _, m := range k.Members {
			if m.Since.IsZero() || m.Since != m.Since.Series() || !m.Until.IsZero() && m.Until.Less(m.Since) {
				t.Fatalf("member %s.%s: since %v until %v", k.Name, m.Name, m.Since, m.Until)
			}
		}
	}
}
