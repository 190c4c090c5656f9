package registry

import (
	"regexp"
	"slices"
	"strings"
)

// EmbeddedKfuncsFile is the name under which the embedded kfunc table reports errors.
const EmbeddedKfuncsFile = "registry/kfuncs.yaml"

// DefaultKfuncs returns the kfunc table embedded in the binary.
func DefaultKfuncs() (*Kfuncs, error) {
	return parseEmbedded(EmbeddedKfuncsFile, embeddedKfuncs, ParseKfuncs)
}

// LoadKfuncs reads and validates a kfunc file (regular files of at most 16 MiB, files.Registry, only).
func LoadKfuncs(path string) (*Kfuncs, error) { return loadFile(path, ParseKfuncs) }

var (
	kfuncRequired = []string{"name", "prototype", "min_kernel", "prog_types", "category"}
	kfuncOptional = []string{"last_kernel", "gaps", "prog_type_since", "prog_type_until", "prog_type_gaps",
		"attach_points", "conditions", "flags", "module", "description", "sources", "notes"}
	kfuncNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	flagRE      = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// ParseKfuncs validates data, the contents of a kfunc file called file: a YAML sequence of
// entries, as strict as helpers.yaml (unknown keys, duplicates and bad values are errors with
// file:line), read by the same skeleton with the same checks of the availability keys.
func ParseKfuncs(file string, data []byte) (*Kfuncs, error) {
	ks, err := parseEntries(file, data, kfuncKind)
	if err != nil {
		return nil, err
	}
	return newKfuncs(file, data, ks), nil
}

// kfuncKind is what the parse skeleton needs to read kfuncs.yaml.
var kfuncKind = &entryKind[*Kfunc]{
	what:           "kfunc",
	required:       kfuncRequired,
	optional:       kfuncOptional,
	emptyProgTypes: true,
	emptyTable:     true,
	newEntry:       func(line int) *Kfunc { return &Kfunc{line: line} },
	field:          (*loader).kfuncField,
	check:          (*loader).kfuncCheck,
	unique: func(k *Kfunc) []uniqueFact {
		return []uniqueFact{{k.Name, "kfunc " + excerpt(k.Name)}}
	},
}

// kfuncField reads one key of a kfunc entry that is not an availability key.
func (l *loader) kfuncField(k *Kfunc, kv field) bool {
	key, v := kv.key, kv.valN
	switch key {
	case "name":
		k.Name = l.str(v, "name")
		switch {
		case k.Name == "" && v.Tag == "!!str":
			l.errorf(v, "name is empty")
		case k.Name != "" && !kfuncNameRE.MatchString(k.Name):
			l.errorf(v, "name %s: want a C identifier", excerpt(k.Name))
		}
	case "prototype":
		k.Prototype = strings.TrimSpace(l.str(v, "prototype"))
	case "conditions":
		k.Conditions = l.conditions(v)
	case "flags":
		k.Flags = l.strList(v, key, flagRE)
	case "module":
		k.Module = l.str(v, key)
	case "category":
		k.Category = l.str(v, key)
		if k.Category != "" && !slices.Contains(KfuncCategories, k.Category) {
			l.errorf(v, "unknown kfunc category %s (known: %s)", excerpt(k.Category), strings.Join(KfuncCategories, ", "))
		}
	case "description":
		k.Description = strings.TrimSpace(l.str(v, key))
	default:
		return false
	}
	return true
}

// kfuncCheck cross-checks what only a kfunc entry has: its prototype declares its name, and its
// conditions fit its program types and prototype.
func (l *loader) kfuncCheck(k *Kfunc, fs fields) {
	l.checkConditions(k, fs)
	if !strings.Contains(k.Prototype, k.Name+"(") {
		f, _ := fs.get("prototype")
		l.errorf(f.valN, "prototype %s does not declare %s", excerpt(k.Prototype), k.Name)
	}
}
