package foreign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// facts renders a registry's entries as `helpers list --format json` does: what a round trip
// must keep.
func facts(t *testing.T, reg *registry.Registry) string {
	t.Helper()
	b, err := json.MarshalIndent(reg.Helpers(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func export(t *testing.T, reg *registry.Registry, prov *Provenance, f Format, opts ExportOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Export(&buf, reg, prov, f, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestExportRoundTrip writes the embedded registry and a table with awkward strings in every
// format the loader reads and reads it back: nothing may change.
func TestExportRoundTrip(t *testing.T) {
	def, err := registry.Default()
	if err != nil {
		t.Fatal(err)
	}
	odd, err := registry.Parse("odd.yaml", []byte(`- id: 7
  name: odd
  signature:
    return: "void *"
    args:
      - {name: "a", type: "const char *"}
  min_kernel: "5.10.3"
  prog_types: [xdp, lwt_seg6local, kprobe]
  prog_type_since: {xdp: "5.11"}
  prog_type_until: {kprobe: "6.1.50"}
  prog_type_gaps: {lwt_seg6local: ["6.1..6.12", "6.14..6.15"]}
  gpl_only: true
  category: network
  description: "Quotes \" and backslashes \\, a tab\t, é, ☃, and a second line:\nhere; #_ {} (def x) */ ?? ."
  attach_points:
    xdp.frags: {since: "6.1", until: "6.12", gaps: ["6.2..6.3"], evidence: "probe: \"6.1\"; #_ {}"}
    kprobe.session/do_unlinkat: {offered: false, evidence: "probe: 6.12"}
  attach_types: [cgroup_inet_ingress]
  sleepable_only: true
  kernel_config: [CONFIG_X]
  sources: {min_kernel: "a: b", "odd key": "x"}
  notes: ";; not a comment"
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, reg := range []*registry.Registry{def, odd} {
		want := facts(t, reg)
		for _, tc := range []struct {
			format Format
			file   string
			opts   ExportOptions
		}{
			{FormatYAML, "out.yaml", ExportOptions{}},
			{FormatEDN, "out.edn", ExportOptions{}},
			{FormatEDN, "out.clj", ExportOptions{EDNDef: "helper-metadata"}},
			{FormatJSON, "out.json", ExportOptions{}},
		} {
			data := export(t, reg, nil, tc.format, tc.opts)
			back, _, err := ParseTable(tc.file, data, DetectFormat(tc.file, data))
			if err != nil {
				t.Fatalf("%s of %s does not load: %v", tc.file, reg.File(), err)
			}
			if got := facts(t, back); got != want {
				t.Errorf("%s of %s changed the table:\n%s", tc.file, reg.File(), firstDiff(want, got))
			}
		}
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return "line " + al[i] + "\n became " + bl[i]
		}
	}
	return "lengths differ"
}

// TestExportForeignTable exports the guide's table: EDN keeps the keyword types and leaves out
// gpl_only as the guide did; YAML loads with our strict loader and says what the guide left out.
func TestExportForeignTable(t *testing.T) {
	guide, prov, err := LoadTable(filepath.Join("testdata", "guide-helpers.edn"))
	if err != nil {
		t.Fatal(err)
	}
	edn := export(t, guide, prov, FormatEDN, ExportOptions{})
	if bytes.Contains(edn, []byte(":gpl-only")) || !bytes.Contains(edn, []byte(":args [:skb-ptr :tstamp :tstamp-type]")) {
		t.Errorf("EDN export:\n%s", edn)
	}
	back, backProv, err := ParseTable("g.edn", edn, FormatEDN)
	if err != nil {
		t.Fatal(err)
	}
	if facts(t, back) != facts(t, guide) {
		t.Errorf("EDN round trip changed the guide's table")
	}
	if h, _ := back.ByID(212); backProv.Claimed(h, "gpl_only") {
		t.Errorf("EDN round trip claims gpl_only for %s", backProv.WrittenAs(h))
	}
	yml := export(t, guide, prov, FormatYAML, ExportOptions{})
	reg, err := registry.Parse("g.yaml", yml)
	if err != nil {
		t.Fatalf("YAML export of the guide does not load: %v\n%s", err, yml)
	}
	h, _ := reg.ByID(213)
	if h.Signature.Args[0] != (registry.Arg{Name: "arg1", Type: ":skb-ptr"}) || !strings.Contains(h.Notes, ":skb-set-tstamp (testdata/guide-helpers.edn:17) does not state gpl_only") {
		t.Errorf("213 from YAML: %+v, notes %q", h.Signature.Args, h.Notes)
	}
}

func TestExportCComment(t *testing.T) {
	reg, err := registry.Parse("a*/b\n.yaml", []byte(strings.Replace(yamlEntryText(1, "a"), "Does one thing well.", `"*/ #endif"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	h := string(export(t, reg, nil, FormatC, ExportOptions{}))
	head, _, _ := strings.Cut(h, "*/")
	if !strings.Contains(head, `from "a*\/b\n.yaml"`) || strings.Count(h, "#endif") != 1 {
		t.Errorf("header comment or description leaks:\n%s", h)
	}
	if err := Export(&bytes.Buffer{}, reg, nil, "xml", ExportOptions{}); err == nil {
		t.Error("Export accepted format xml")
	}
}

// yamlEntryText renders one valid entry of our YAML format.
func yamlEntryText(id int, name string) string {
	return fmt.Sprintf(`- id: %d
  name: %s
  signature:
    return: long
    args:
      - {name: skb, type: struct __sk_buff *}
  min_kernel: "5.8"
  prog_types: [xdp, sched_cls]
  gpl_only: false
  category: network
  description: Does one thing well.
`, id, name)
}
