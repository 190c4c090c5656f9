package registry

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse validates data, the contents of a registry file called file, and builds a Registry.
// Every problem found is reported (up to a bound), each as "file:line: message".
func Parse(file string, data []byte) (*Registry, error) {
	helpers, err := parseEntries(file, data, helperKind)
	if err != nil {
		return nil, err
	}
	return NewRegistry(file, data, helpers), nil
}

// The keys of a helper entry: what one must and may contain; anything else is an error.
var (
	requiredFields = []string{"id", "name", "signature", "min_kernel", "prog_types", "gpl_only", "category", "description"}
	optionalFields = []string{"prog_type_since", "prog_type_until", "prog_type_gaps", "attach_points", "attach_types", "sleepable_only", "kernel_config", "sources", "notes"}
)

// HelperKeys returns the keys of a helper entry, as helpers.yaml spells them: those every entry
// must have, and those it may have. Readers of other formats (package foreign) map their keys
// to these.
func HelperKeys() (required, optional []string) {
	return append([]string(nil), requiredFields...), append([]string(nil), optionalFields...)
}

// helperKind is what the parse skeleton needs to read helpers.yaml.
var helperKind = &entryKind[*Helper]{
	what:     "helper",
	required: requiredFields,
	optional: optionalFields,
	newEntry: func(line int) *Helper { return &Helper{line: line} },
	field:    (*loader).helperField,
	check:    func(*loader, *Helper, fields) {},
	unique: func(h *Helper) []uniqueFact {
		return []uniqueFact{
			{"id " + strconv.Itoa(h.ID), "id " + strconv.Itoa(h.ID)},
			{"name " + h.Name, "name " + excerpt(h.Name)},
		}
	},
}

// helperField reads one key of a helper entry that is not an availability key.
func (l *loader) helperField(h *Helper, kv field) bool {
	key, v := kv.key, kv.valN
	switch key {
	case "id":
		h.ID = l.helperID(v)
	case "name":
		h.Name = l.str(v, "name")
		switch {
		case h.Name == "" && v.Tag == "!!str": // `name: >` with nothing under it
			l.errorf(v, "name is empty")
		case strings.HasPrefix(h.Name, "bpf_"):
			l.errorf(v, "name %s: write it without the bpf_ prefix", excerpt(h.Name))
		case h.Name != "" && !nameRE.MatchString(h.Name):
			l.errorf(v, "name %s: want a lower-case C identifier", excerpt(h.Name))
		}
	case "signature":
		h.Signature = l.signature(v)
	case "gpl_only":
		h.GPLOnly = l.boolean(v, "gpl_only")
	case "category":
		h.Category = l.str(v, "category")
		if h.Category != "" && !isKnownCategory(h.Category) {
			l.errorf(v, "unknown category %s (known: %s)", excerpt(h.Category), strings.Join(knownCategories, ", "))
		}
	case "description":
		h.Description = strings.TrimSpace(l.str(v, "description"))
		if h.Description == "" {
			l.errorf(v, "description is empty")
		}
	case "attach_types":
		h.AttachTypes = l.strList(v, key, nameRE)
	case "sleepable_only":
		h.SleepableOnly = l.boolean(v, key)
	case "kernel_config":
		h.KernelConfig = l.strList(v, key, configRE)
	default:
		return false
	}
	return true
}

// maxHelperID is the largest id the kernel's enum bpf_func_id can hold: a helper call carries
// its id in the 32-bit signed immediate of the call instruction.
const maxHelperID = math.MaxInt32

// helperID reads an entry's id: a decimal number from 1 to maxHelperID.
func (l *loader) helperID(n *yaml.Node) int {
	s, ok := l.scalar(n, "id")
	if !ok {
		return 0
	}
	// ParseInt reports ErrRange only for decimal digits, which YAML reads as a float when they
	// do not fit 64 bits: those are ids out of range, not malformed ones.
	v, err := strconv.ParseInt(s, 10, 64)
	outOfRange := errors.Is(err, strconv.ErrRange) && (n.Tag == "!!int" || n.Tag == "!!float")
	if !outOfRange && (n.Tag != "!!int" || err != nil) {
		l.errorf(n, "id: want a whole number, found %s", excerpt(s))
		return 0
	}
	num := s
	if len(num) > ExcerptLen {
		num = num[:ExcerptLen] + "..."
	}
	switch {
	case v <= 0: // an out-of-range negative number parses as math.MinInt64
		l.errorf(n, "id: want a positive number, found %s", num)
		return 0
	case v > maxHelperID:
		l.errorf(n, "id: %s does not fit the kernel's enum bpf_func_id (at most %d)", num, maxHelperID)
		return 0
	}
	return int(v)
}
