package section_test

import (
	"testing"

	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/section"
)

// TestProgTypesAreRegistryNames holds every program type the table names to the registry's
// names: the two must stay one vocabulary.
func TestProgTypesAreRegistryNames(t *testing.T) {
	for _, s := range section.Known() {
		if _, ok := registry.ProgTypeID(s.ProgType); !ok {
			t.Errorf("section %q: program type %q is not a registry program type", s.Name, s.ProgType)
		}
	}
}

// TestBareProgTypes: every program type name the CLI accepts today still reads, as that type.
func TestBareProgTypes(t *testing.T) {
	for _, name := range registry.ProgTypeNames() {
		s, err := section.Parse(name)
		if err != nil {
			t.Errorf("program type %q: %v", name, err)
			continue
		}
		if s.ProgType != name {
			t.Errorf("program type %q reads as type %q", name, s.ProgType)
		}
		if s.Target != "" || s.Key() != name {
			t.Errorf("program type %q: target %q, key %q", name, s.Target, s.Key())
		}
	}
}
