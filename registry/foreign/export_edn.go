package foreign

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// exportEDN writes the table as a Clojure library keeps it: a map of keyword to entry, keys and
// kernel names with dashes, :prog-types #{...} or :all, and the per-type facts in
// :prog-type-since, :prog-type-until and :prog-type-gaps, the per-attach-point facts in
// :attach-points. LoadTable reads it back unchanged.
// With def set, the map is the value of (def def {...}).
func exportEDN(w io.Writer, reg *registry.Registry, prov *Provenance, def string) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, ";; %s\n", provenance(reg))
	fmt.Fprintln(b, ";; Keys are the registry's, with dashes. :prog-type-since gives the release in which a program")
	fmt.Fprintln(b, ";; type got the helper where that is later than :min-kernel; :prog-type-until the last release")
	fmt.Fprintln(b, ";; series that offers it; :prog-type-gaps the series in between that do not.")
	ind := " "
	if def != "" {
		fmt.Fprintf(b, "(def %s\n  {", def)
		ind = "   "
	} else {
		b.WriteString("{")
	}
	for i, h := range reg.Helpers() {
		if i > 0 {
			b.WriteString("\n\n" + ind)
		}
		ednWriteEntry(b, h, prov, ind)
	}
	b.WriteString("}")
	if def != "" {
		b.WriteString(")")
	}
	b.WriteString("\n")
	return b.Flush()
}

// ednWriteEntry writes one entry: its keyword, then its map indented by ind.
func ednWriteEntry(b *bufio.Writer, h *registry.Helper, prov *Provenance, ind string) {
	var fields []string
	add := func(key, value string) { fields = append(fields, ":"+dashed(key)+" "+value) }
	add("id", strconv.Itoa(h.ID))
	add("name", ednQuote(h.CName()))
	args := make([]string, len(h.Signature.Args))
	for i, a := range h.Signature.Args {
		switch {
		case a.Name == "" && ednIsKeyword(a.Type):
			args[i] = a.Type
		case a.Name == "":
			args[i] = "{:type " + ednType(a.Type) + "}"
		default:
			args[i] = "{:name " + ednQuote(a.Name) + " :type " + ednType(a.Type) + "}"
		}
	}
	add("signature", "{:return "+ednType(h.Signature.Return)+" :args ["+strings.Join(args, " ")+"]}")
	add("min_kernel", ednQuote(h.MinKernel.String()))
	if h.ProgTypes.All {
		add("prog_types", ":all")
	} else {
		add("prog_types", "#{"+ednKeywords(h.ProgTypes.Types)+"}")
	}
	ednPerType(h, add)
	if prov.Claimed(h, "gpl_only") {
		add("gpl_only", strconv.FormatBool(h.GPLOnly))
	}
	add("category", ":"+dashed(h.Category))
	add("description", ednQuote(h.Description))
	if len(h.AttachTypes) > 0 {
		add("attach_types", "["+ednKeywords(h.AttachTypes)+"]")
	}
	if h.SleepableOnly {
		add("sleepable_only", "true")
	}
	if len(h.KernelConfig) > 0 {
		quoted := make([]string, len(h.KernelConfig))
		for i, c := range h.KernelConfig {
			quoted[i] = ednQuote(c)
		}
		add("kernel_config", "["+strings.Join(quoted, " ")+"]")
	}
	if len(h.Sources) > 0 {
		var pairs []string
		for _, k := range sortedKeys(h.Sources) {
			key := ednQuote(k)
			if ednPlainKey.MatchString(k) {
				key = ":" + dashed(k)
			}
			pairs = append(pairs, key+" "+ednQuote(h.Sources[k]))
		}
		add("sources", "{"+strings.Join(pairs, "\n"+ind+strings.Repeat(" ", len(" :sources {")))+"}")
	}
	if h.Notes != "" {
		add("notes", ednQuote(h.Notes))
	}
	fmt.Fprintf(b, ":%s\n%s{%s}", dashed(h.Name), ind, strings.Join(fields, "\n"+ind+" "))
}

// ednKeywords renders kernel names as keywords with dashes, separated by spaces.
func ednKeywords(names []string) string {
	kws := make([]string, len(names))
	for i, n := range names {
		kws[i] = ":" + dashed(n)
	}
	return strings.Join(kws, " ")
}

// ednIsKeyword reports whether s is a keyword as an EDN table wrote it (":map-ptr").
func ednIsKeyword(s string) bool {
	return strings.HasPrefix(s, ":") && !strings.HasPrefix(s, "::") && ednNameRE.MatchString(s[1:])
}

// ednType writes a C type as a string, and a type an EDN table wrote as a keyword as that keyword.
func ednType(s string) string {
	if ednIsKeyword(s) {
		return s
	}
	return ednQuote(s)
}

// ednQuote writes s as an EDN string literal.
func ednQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f || r == utf8.RuneError {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ednPlainKey matches the source keys written as keywords; others are written as strings.
var ednPlainKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ednPerType adds the facts of h per program type and per attach point, where it has any.
func ednPerType(h *registry.Helper, add func(key, value string)) {
	for _, vm := range []struct {
		key string
		m   map[string]registry.Version
	}{{"prog_type_since", h.ProgTypeSince}, {"prog_type_until", h.ProgTypeUntil}} {
		if len(vm.m) > 0 {
			var pairs []string
			for _, t := range sortedKeys(vm.m) {
				pairs = append(pairs, ":"+dashed(t)+" "+ednQuote(vm.m[t].String()))
			}
			add(vm.key, "{"+strings.Join(pairs, " ")+"}")
		}
	}
	if len(h.ProgTypeGaps) > 0 {
		var pairs []string
		for _, t := range sortedKeys(h.ProgTypeGaps) {
			var gs []string
			for _, g := range h.ProgTypeGaps[t] {
				gs = append(gs, ednQuote(g.String()))
			}
			pairs = append(pairs, ":"+dashed(t)+" ["+strings.Join(gs, " ")+"]")
		}
		add("prog_type_gaps", "{"+strings.Join(pairs, " ")+"}")
	}
	if len(h.AttachPoints) > 0 {
		add("attach_points", ednAttachPoints(h.AttachPoints))
	}
}

// ednAttachPoints renders attach_points as a map from the section key, a string (it holds '/'
// and '.'), to a map of its facts, keyed as the registry file keys them.
func ednAttachPoints(points map[string]registry.AttachPoint) string {
	var pairs []string
	for _, key := range sortedKeys(points) {
		p := points[key]
		var facts []string
		if !p.Since.IsZero() {
			facts = append(facts, ":since "+ednQuote(p.Since.String()))
		}
		if !p.Until.IsZero() {
			facts = append(facts, ":until "+ednQuote(p.Until.String()))
		}
		if len(p.Gaps) > 0 {
			gs := make([]string, len(p.Gaps))
			for i, g := range p.Gaps {
				gs[i] = ednQuote(g.String())
			}
			facts = append(facts, ":gaps ["+strings.Join(gs, " ")+"]")
		}
		if p.Refused {
			facts = append(facts, ":offered false")
		}
		facts = append(facts, ":evidence "+ednQuote(p.Evidence))
		pairs = append(pairs, ednQuote(key)+" {"+strings.Join(facts, " ")+"}")
	}
	return "{" + strings.Join(pairs, " ") + "}"
}
