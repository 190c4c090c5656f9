package foreign

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

func TestForeignGuideTable(t *testing.T) {
	reg, prov, err := LoadTable(filepath.Join("testdata", "guide-helpers.edn"))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id          int
		name, since string
		types       string
		category    string
	}{
		{212, "ktime_get_real_ns", "6.3", "all", "time"},
		{213, "skb_set_tstamp", "6.3", "sched_cls, sched_act", "network"},
		{214, "skb_get_nlattr", "6.4", "sched_cls, sched_act", "network"},
		{215, "get_task_exe_file", "6.4", "kprobe, tracepoint, lsm", "trace"},
		{216, "cgroup_set_ancestor_cgroup_id", "6.5", "cgroup_skb, sock_ops", "cgroup"},
		{217, "cgroup_get_current_level", "6.5", "all", "cgroup"},
	}
	hs := reg.Helpers()
	if len(hs) != len(want) {
		t.Fatalf("%d helpers, want %d", len(hs), len(want))
	}
	for i, w := range want {
		h := hs[i]
		if h.ID != w.id || h.Name != w.name || h.MinKernel.String() != w.since || h.ProgTypes.String() != w.types || h.Category != w.category {
			t.Errorf("entry %d: %d %s %s [%s] %s, want %+v", i, h.ID, h.Name, h.MinKernel, h.ProgTypes, h.Category, w)
		}
		e, _ := prov.Entry(h)
		if fmt.Sprint(prov.Unclaimed(h)) != "[gpl_only]" || !prov.Foreign() || prov.Format != FormatEDN || prov.Claimed(h, "gpl_only") || !prov.Claimed(h, "min_kernel") || !prov.Claimed(h, "prog_types") {
			t.Errorf("%s: format %q, claims %v", h.Name, prov.Format, e.Claims.Keys())
		}
	}
	h, _ := reg.Lookup("ktime_get_real_ns")
	if e, _ := prov.Entry(h); e.Written != ":ktime-get-real-ns (testdata/guide-helpers.edn:8)" || prov.WrittenAs(h) != e.Written {
		t.Errorf("Written = %q, WrittenAs %q", e.Written, prov.WrittenAs(h))
	}
	h, _ = reg.ByID(216)
	if got := fmt.Sprint(h.Signature.Args); got != "[{cgrp struct cgroup *} {level int} { :id}]" || h.Signature.Return != ":long" {
		t.Errorf("216 signature: %s %s", h.Signature.Return, got)
	}
	if ok, err := reg.Compatible("bpf_skb_set_tstamp", "sched_act", registry.MustParseVersion("6.3")); !ok || err != nil {
		t.Errorf("213 on sched_act 6.3: %v %v", ok, err)
	}
}

func TestForeignJSONTable(t *testing.T) {
	reg, prov, err := LoadTable(filepath.Join("testdata", "table.json"))
	if err != nil {
		t.Fatal(err)
	}
	if reg.Len() != 3 {
		t.Fatalf("%d helpers, want 3", reg.Len())
	}
	h, _ := reg.ByID(4)
	if !h.GPLOnly || !prov.Claimed(h, "gpl_only") || h.ProgTypeSince["tracing"].String() != "5.5" || prov.Format != FormatJSON {
		t.Errorf("probe_read: %+v", h)
	}
	h, _ = reg.ByID(125)
	e, _ := prov.Entry(h)
	if h.GPLOnly || prov.Claimed(h, "gpl_only") || !prov.Claimed(h, "description") {
		t.Errorf("ktime_get_boot_ns: gpl_only %v, claims %v", h.GPLOnly, e.Claims.Keys())
	}
	if want := `entry 2 "ktime_get_boot_ns" (testdata/table.json:36)`; e.Written != want {
		t.Errorf("Written = %q, want %q", e.Written, want)
	}
}

func TestLoadTableYAML(t *testing.T) {
	reg, prov, err := LoadTable(filepath.Join("..", "testdata", "small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := reg.ByID(5)
	if _, foreign := prov.Entry(h); foreign || prov.Foreign() || prov.Format != FormatYAML || !prov.Claimed(h, "gpl_only") || prov.Unclaimed(h) != nil {
		t.Errorf("ktime_get_ns: format %q, foreign entry %v", prov.Format, foreign)
	}
	if got := prov.WrittenAs(h); got != "ktime_get_ns (line 28)" {
		t.Errorf("WrittenAs = %q", got)
	}
	def, err := registry.Default()
	if err != nil {
		t.Fatal(err)
	}
	var none *Provenance
	if h, _ := def.ByID(1); none.WrittenAs(h) != "map_lookup_elem (line 40)" || !none.Claimed(h, "gpl_only") {
		t.Errorf("embedded WrittenAs = %q", none.WrittenAs(h))
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		file, data string
		want       Format
	}{
		{"t.edn", "- id: 1", FormatEDN},
		{"T.CLJ", "", FormatEDN},
		{"t.cljc", "", FormatEDN},
		{"t.json", "- id: 1", FormatJSON},
		{"t.yml", `[{"id": 1}]`, FormatYAML},
		{"t", "\n  ;; helpers\n{:a {}}", FormatEDN},
		{"t", "(def helper-metadata {})", FormatEDN},
		{"t", "#_ x {}", FormatEDN},
		{"t", "\xef\xbb\xbf  [\n  {\n \"id\": 1}]", FormatJSON},
		{"t", "[ ]", FormatJSON},
		{"t", "[{id: 1}]", FormatYAML},
		{"t.txt", "# registry\n- id: 1\n", FormatYAML},
		{"t", "", FormatYAML},
	}
	for _, tt := range tests {
		if got := DetectFormat(tt.file, []byte(tt.data)); got != tt.want {
			t.Errorf("DetectFormat(%q, %q) = %s, want %s", tt.file, tt.data, got, tt.want)
		}
	}
}

// ednEntryText renders one valid EDN entry, with edits replacing or adding "key value" pairs; the
// entry's keyword is on line 2 of the table.
func ednTable(entries ...string) string {
	return "(def helper-metadata\n  {" + strings.Join(entries, "\n   ") + "})\n"
}

func ednEntryText(key string, id int, edits ...string) string {
	fields := []string{
		fmt.Sprintf(":id %d", id), fmt.Sprintf(`:name "bpf_%s"`, kernelName(key)),
		":signature {:return :long :args [:ctx-ptr]}", `:min-kernel "5.8"`,
		":prog-types #{:xdp :sched-cls}", ":category :network", `:description "Does one thing."`,
	}
	for _, e := range edits {
		k := strings.Fields(e)[0]
		replaced := false
		for i, f := range fields {
			if strings.Fields(f)[0] == k {
				fields[i], replaced = e, true
			}
		}
		if !replaced {
			fields = append(fields, e)
		}
	}
	return ":" + key + "\n   {" + strings.Join(fields, "\n    ") + "}"
}

// refusal is a table a reader must refuse: its text, and what the error must say.
type refusal struct{ name, src, want string }

// checkRefusals reads each case's text as file in format and fails t unless the reader refuses
// it with an error that says the case's want.
func checkRefusals(t *testing.T, file string, format Format, cases []refusal) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseTable(file, []byte(tt.src), format)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v\nwant %q\nin\n%s", err, tt.want, tt.src)
			}
		})
	}
}

func TestFaultForeignEDN(t *testing.T) {
	ok := ednEntryText("one-thing", 1)
	tests := []refusal{
		{"unknown key", ednTable(ednEntryText("a", 1, ":colour :blue")), `t.edn:10: :a: unknown key :colour (known: :id :name :signature :min-kernel`},
		{"underscored key", ednTable(ednEntryText("a", 1, `:min_kernel "5.8"`)), `t.edn:10: :a: unknown key :min_kernel`},
		{"unknown prog type", ednTable(ednEntryText("a", 1, ":prog-types #{:xdp :tc}")), `t.edn:7: :a: prog_types: unknown program type "tc"`},
		{"unknown category", ednTable(ednEntryText("a", 1, ":category :misc")), `t.edn:8: :a: unknown category "misc"`},
		{"duplicate id", ednTable(ok, ednEntryText("other", 1)), `t.edn:10: :other: duplicate id 1: :one-thing (t.edn:2) has it too`},
		{"duplicate name", ednTable(ok, ednEntryText("other", 2, `:name "one_thing"`)), `t.edn:10: :other: duplicate name one_thing: :one-thing (t.edn:2) has it too`},
		{"version as number", ednTable(ednEntryText("a", 1, ":min-kernel 6.10")), `t.edn:6: :a: min_kernel: write the version as a string, "6.10": as a number, 6.10 would be 6.1`},
		{"malformed version", ednTable(ednEntryText("a", 1, `:min-kernel "6.x"`)), `t.edn:6: :a: min_kernel: malformed kernel version: "6.x"`},
		{"id too large", ednTable(ednEntryText("a", 2147483648)), "t.edn:3: :a: id: 2147483648 does not fit the kernel's enum bpf_func_id"},
		{"id not a number", ednTable(ednEntryText("a", 1, `:id "1"`)), `t.edn:3: :a: id: want a whole number, found "1"`},
		{"missing min kernel", ednTable(strings.Replace(ednEntryText("a", 1), `:min-kernel "5.8"`, "", 1)), `t.edn:2: :a: entry is missing required key "min_kernel"`},
		{"keyword description", ednTable(ednEntryText("a", 1, ":description :none")), `t.edn:9: :a: description: want a string, found keyword ":none"`},
		{"bad name", ednTable(ednEntryText("a", 1, `:name "bpf_Bad-Name"`)), `t.edn:4: :a: name "Bad-Name": want a lower-case C identifier`},
		{"arg without type", ednTable(ednEntryText("a", 1, `:signature {:return :long :args [{:name "x"}]}`)), "t.edn:5: :a: signature argument needs a type"},
		{"arg unknown key", ednTable(ednEntryText("a", 1, `:signature {:return :long :args [{:name "x" :kind :u32}]}`)), `t.edn:5: :a: signature argument: unknown key "kind"`},
		{"too many args", ednTable(ednEntryText("a", 1, `:signature {:return :long :args [:a :b :c :d :e :f]}`)), "t.edn:5: :a: signature.args: 6 arguments"},
		{"no args", ednTable(ednEntryText("a", 1, `:signature {:return :long}`)), "t.edn:5: :a: signature needs both return and args"},
		{"since for unlisted type", ednTable(ednEntryText("a", 1, `:prog-type-since {:kprobe "6.1"}`)), "t.edn:10: :a: prog_type_since names kprobe, which prog_types does not list"},
		{"entry not a map", "{:a [1 2]}", "t.edn:1: :a: want a map of the helper's facts, found a vector"},
		{"string key", "{\"a\" {}}", `t.edn:1: helper table: want a keyword naming the helper (:map-lookup-elem) as key, found a string "a"`},
		{"empty table", "{}", "t.edn:1: no helper entries"},
		{"no table", "(ns x)\n", "t.edn: no helper table"},
		{"junk at the top", "[1 2]\n{:a {}}", "t.edn:1: a vector at the top level"},
		{"two tables", "(def a {})\n(def b {})", "t.edn:2: 2 maps could be the helper table (a on line 1, b on line 2)"},
		{"malformed def", "(def {})", "t.edn:1: malformed (def ...)"},
		{"reader error", "{:a {:id 1}", "t.edn:1: a map opened here is never closed"},
	}
	checkRefusals(t, "t.edn", FormatEDN, tests)
}

func TestForeignEDNForms(t *testing.T) {
	// A bare map, a name left out (the keyword names the helper), a name with the bpf_ prefix,
	// keyword and string program types, gpl_only and the optional keys with dashes, and a
	// second def that is not a map.
	src := `{:ktime-get-ns {:id 5 :signature {:return "u64" :args []} :min-kernel "4.1" :prog-types :all
                :category :time :description "Monotonic time." :gpl-only false}
 :probe-read {:id 4 :name "probe_read" :signature {:return :long :args [{:name "dst" :type "void *"} {:type "u32"}]}
              :min-kernel "4.1" :prog-types ["kprobe" :tracing :lsm] :prog-type-since {:tracing "5.5"}
              :prog-type-until {:lsm "6.1"} :prog-type-gaps {:tracing ["5.6..5.7"]}
              :attach-types [:trace-fentry] :sleepable-only false :kernel-config ["CONFIG_BPF_EVENTS"]
              :sources {:min-kernel "a note"} :notes "n" :gpl-only true :category :probe :description "Reads."}}`
	reg, prov, err := ParseTable("t", []byte(src), DetectFormat("t", []byte(src)))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := reg.ByID(5)
	if h.Name != "ktime_get_ns" || !prov.Claimed(h, "gpl_only") || h.Signature.Return != "u64" {
		t.Errorf("ktime_get_ns: %+v", h)
	}
	h, _ = reg.ByID(4)
	got := fmt.Sprintf("%s %s %v %v %v %v %v %v", h.Name, h.ProgTypes, h.ProgTypeSince, h.ProgTypeUntil, h.ProgTypeGaps, h.AttachTypes, h.KernelConfig, h.Sources)
	want := "probe_read kprobe, tracing, lsm map[tracing:5.5] map[lsm:6.1] map[tracing:[5.6..5.7]] [trace_fentry] [CONFIG_BPF_EVENTS] map[min_kernel:a note]"
	if got != want || !h.GPLOnly || h.Signature.Args[1] != (registry.Arg{Type: "u32"}) {
		t.Errorf("probe_read:\n got %s\nwant %s", got, want)
	}
}

func TestFaultForeignJSON(t *testing.T) {
	entry := func(id int, name string, extra string) string {
		return fmt.Sprintf(`{"id": %d, "name": %q, "signature": {"return": "long", "args": []}, "min_kernel": "5.8",
  "prog_types": ["xdp"], "category": "xdp", "description": "x"%s}`, id, name, extra)
	}
	tests := []refusal{
		{"unknown key", "[\n" + entry(1, "a", ",\n \"colour\": 1") + "]", `t.json:4: entry 0 "a": unknown key "colour"`},
		{"duplicate id", "[" + entry(1, "a", "") + ",\n" + entry(1, "b", "") + "]", `t.json:3: entry 1 "b": duplicate id 1: entry 0 "a" (t.json:1) has it too`},
		{"duplicate name", "[" + entry(1, "a", "") + ",\n" + entry(2, "a", "") + "]", `t.json:3: entry 1 "a": duplicate name a: entry 0 "a" (t.json:1) has it too`},
		{"duplicate key", "[" + entry(1, "a", `, "id": 2`) + "]", `t.json:2: entry 0 "a": helper entry: duplicate key "id"`},
		{"version as number", "[" + strings.Replace(entry(1, "a", ""), `"5.8"`, "5.10", 1) + "]", `t.json:1: entry 0 "a": min_kernel: write the version as a string, "5.10"`},
		{"prefixed name", "[" + entry(1, "bpf_a", "") + "]", `entry 0 "bpf_a": name "bpf_a": write it without the bpf_ prefix`},
		{"fractional id", "[" + strings.Replace(entry(1, "a", ""), `"id": 1`, `"id": 1.5`, 1) + "]", `entry 0 "a": id: want a whole number, found "1.5"`},
		{"null", "[" + entry(1, "a", `, "notes": null`) + "]", `entry 0 "a": notes: want a string, found null "null"`},
		{"unknown prog type", "[" + strings.Replace(entry(1, "a", ""), `["xdp"]`, `["xdp", "tc"]`, 1) + "]", `t.json:2: entry 0 "a": prog_types: unknown program type "tc"`},
		{"not an array", `{"id": 1}`, "t.json:1: want a JSON array of helper entries, found an object"},
		{"entry not an object", "[\n 1]", "t.json:2: entry 0: want an object, found 1"},
		{"syntax error", "[\n{\"id\": 1,,}]", "t.json:2: cannot parse JSON: invalid character ','"},
		{"cut short", "[\n{\"id\": 1", "t.json:2: cannot parse JSON: the file ends inside a value"},
		{"trailing data", "[]\n[]", "t.json:2: more after the JSON value that ends on line 1"},
		{"empty", "  \n", "t.json: empty file"},
		{"no entries", "[]", "t.json:1: no helper entries"},
	}
	checkRefusals(t, "t.json", FormatJSON, tests)
}

func TestLoadTableRefusesWhatLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadTable(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	p := testenv.WriteFile(t, filepath.Join(dir, "t.edn"), []byte("{:a {:id 1}}"))
	if _, _, err := LoadTable(p); err == nil || !strings.Contains(err.Error(), "t.edn:1: :a: entry is missing required key") {
		t.Errorf("incomplete entry: %v", err)
	}
}
