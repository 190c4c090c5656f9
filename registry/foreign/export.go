package foreign

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// Writing the table back out: in our YAML (which Parse reads back), as the JSON array
// `helpers list --format json` prints, as a Clojure library's EDN map, and as a C header. Every
// format carries the per-type facts (first releases, last releases, gaps), so a library that
// imports the table answers "is it offered to this type on this kernel" as we do.

// ExportOptions adjusts what Export writes.
type ExportOptions struct {
	// EDNDef, when not empty, wraps an EDN export in (def EDNDef {...}), as Clojure source
	// keeps a table; when empty the export is the bare map, which EDN readers take.
	EDNDef string
}

// ExportFormats lists the formats Export writes.
func ExportFormats() []Format { return []Format{FormatYAML, FormatJSON, FormatEDN, FormatC} }

// Export writes the registry's helpers, in id order, to w in format. prov, which may be nil,
// says which facts a foreign table left out: the YAML export names them in the entry's notes.
func Export(w io.Writer, reg *registry.Registry, prov *Provenance, format Format, opts ExportOptions) error {
	switch format {
	case FormatYAML:
		return exportYAML(w, reg, prov)
	case FormatJSON:
		return exportJSON(w, reg)
	case FormatEDN:
		return exportEDN(w, reg, prov, opts.EDNDef)
	case FormatC:
		return exportC(w, reg, prov)
	}
	return fmt.Errorf("registry: unknown export format %q (want yaml, json, edn or c)", format)
}

// provenance names the table an export was made from, for the comment at its top. A file name
// that does not print plainly is quoted, so that it cannot end the comment.
func provenance(reg *registry.Registry) string {
	file := reg.File()
	if strconv.Quote(file) != `"`+file+`"` || strings.Contains(file, "*/") {
		file = strings.ReplaceAll(strconv.Quote(file), "*/", `*\/`)
	}
	return fmt.Sprintf("Exported by bpfmatrix helpers export from %s (sha256 %s).", file, reg.SHA256())
}

// exportJSON writes the array `helpers list --format json` prints, byte for byte.
func exportJSON(w io.Writer, reg *registry.Registry) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(reg.Helpers())
}

// exportYAML writes our registry format. Facts a foreign table did not state are written with
// their defaults and named in notes; arguments without a name get their position as name.
func exportYAML(w io.Writer, reg *registry.Registry, prov *Provenance) error {
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, h := range reg.Helpers() {
		seq.Content = append(seq.Content, yamlEntry(h, prov))
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: provenance(reg), Content: []*yaml.Node{seq}}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return enc.Close()
}

// yamlEntry renders one helper in the key order of helpers.yaml.
func yamlEntry(h *registry.Helper, prov *Provenance) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(key string, v *yaml.Node) { m.Content = append(m.Content, yamlStr(key), v) }
	add("id", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(h.ID)})
	add("name", yamlStr(h.Name))
	args := yamlFlowSeq()
	for i, a := range h.Signature.Args {
		name := a.Name
		if name == "" {
			name = fmt.Sprintf("arg%d", i+1)
		}
		arg := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
		arg.Content = append(arg.Content, yamlStr("name"), yamlStr(name), yamlStr("type"), yamlStr(a.Type))
		args.Content = append(args.Content, arg)
	}
	if len(args.Content) > 0 {
		args.Style = 0 // one argument a line, as helpers.yaml writes them
	}
	sig := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	sig.Content = append(sig.Content, yamlStr("return"), yamlStr(h.Signature.Return), yamlStr("args"), args)
	add("signature", sig)
	add("min_kernel", yamlVersion(h.MinKernel.String()))
	if h.ProgTypes.All {
		add("prog_types", yamlStr("all"))
	} else {
		add("prog_types", yamlStrs(h.ProgTypes.Types))
	}
	for _, vm := range []struct {
		key string
		m   map[string]registry.Version
	}{{"prog_type_since", h.ProgTypeSince}, {"prog_type_until", h.ProgTypeUntil}} {
		if len(vm.m) > 0 {
			fm := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
			for _, t := range sortedKeys(vm.m) {
				fm.Content = append(fm.Content, yamlStr(t), yamlVersion(vm.m[t].String()))
			}
			add(vm.key, fm)
		}
	}
	if len(h.ProgTypeGaps) > 0 {
		fm := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
		for _, t := range sortedKeys(h.ProgTypeGaps) {
			gs := yamlFlowSeq()
			for _, g := range h.ProgTypeGaps[t] {
				gs.Content = append(gs.Content, yamlVersion(g.String()))
			}
			fm.Content = append(fm.Content, yamlStr(t), gs)
		}
		add("prog_type_gaps", fm)
	}
	add("gpl_only", yamlBool(h.GPLOnly))
	add("category", yamlStr(h.Category))
	add("description", yamlStr(h.Description))
	yamlOptional(h, prov, add)
	return m
}

// yamlOptional adds the optional keys that are set, and notes what a foreign table left out.
func yamlOptional(h *registry.Helper, prov *Provenance, add func(string, *yaml.Node)) {
	if len(h.AttachPoints) > 0 {
		add("attach_points", yamlAttachPoints(h.AttachPoints))
	}
	if len(h.AttachTypes) > 0 {
		add("attach_types", yamlStrs(h.AttachTypes))
	}
	if h.SleepableOnly {
		add("sleepable_only", yamlBool(true))
	}
	if len(h.KernelConfig) > 0 {
		add("kernel_config", yamlStrs(h.KernelConfig))
	}
	if len(h.Sources) > 0 {
		sm := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range sortedKeys(h.Sources) {
			sm.Content = append(sm.Content, yamlStr(k), yamlStr(h.Sources[k]))
		}
		add("sources", sm)
	}
	notes := h.Notes
	if missing := prov.Unclaimed(h); len(missing) > 0 {
		n := fmt.Sprintf("%s does not state %s; the value here is the default, not a finding.", prov.WrittenAs(h), strings.Join(missing, ", "))
		notes = strings.TrimSpace(notes + " " + n)
	}
	if notes != "" {
		add("notes", yamlStr(notes))
	}
}

// yamlAttachPoints renders attach_points: one attach point a line, its facts a flow mapping.
func yamlAttachPoints(points map[string]registry.AttachPoint) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, key := range sortedKeys(points) {
		p := points[key]
		fm := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
		if !p.Since.IsZero() {
			fm.Content = append(fm.Content, yamlStr("since"), yamlVersion(p.Since.String()))
		}
		if !p.Until.IsZero() {
			fm.Content = append(fm.Content, yamlStr("until"), yamlVersion(p.Until.String()))
		}
		if len(p.Gaps) > 0 {
			gs := yamlFlowSeq()
			for _, g := range p.Gaps {
				gs.Content = append(gs.Content, yamlVersion(g.String()))
			}
			fm.Content = append(fm.Content, yamlStr("gaps"), gs)
		}
		if p.Refused {
			fm.Content = append(fm.Content, yamlStr("offered"), yamlBool(false))
		}
		fm.Content = append(fm.Content, yamlStr("evidence"), yamlStr(p.Evidence))
		m.Content = append(m.Content, yamlStr(key), fm)
	}
	return m
}

func yamlStr(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func yamlVersion(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle}
}

func yamlBool(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func yamlFlowSeq() *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
}

func yamlStrs(list []string) *yaml.Node {
	s := yamlFlowSeq()
	for _, v := range list {
		s.Content = append(s.Content, yamlStr(v))
	}
	return s
}
