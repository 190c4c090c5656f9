package kernelsrc

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// tinySource reads testdata/tiny.txt, a made-up extract with the shape of the kernel's: hooks
// shared by several types, a common set, a filtered set, guarded entries and registrations.
// crosscheck's comparison tests read the same file.
func tinySource(t *testing.T) *Source {
	t.Helper()
	return readExtractFile(t, filepath.Join("testdata", "tiny.txt"))
}

// readExtractFile reads the extract at path, failing t on any error.
func readExtractFile(t *testing.T, path string) *Source {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := ReadExtract(path, f)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestLookup(t *testing.T) {
	cfg := func(on ...string) Config {
		return func(o string) string {
			if slices.Contains(on, o) {
				return "y"
			}
			return ""
		}
	}
	tests := []struct {
		name      string
		kfunc     string
		config    Config
		ok        bool
		common    bool
		types     []string
		filters   []string
		undecided []Guard
	}{
		{"shared hook gives cgroup_sock too", "k_gen", cfg(), true, false, []string{"cgroup_skb", "cgroup_sock", "lsm", "tracing", "xdp"}, []string{"fs_filter"}, nil},
		{"guarded id set left out", "k_cg", cfg("CONFIG_CGROUPS"), true, false, []string{"cgroup_skb", "cgroup_sock", "xdp"}, nil, nil},
		{"guarded id set counted", "k_cg", cfg("CONFIG_CGROUPS", "CONFIG_KEYS"), true, false, []string{"cgroup_skb", "cgroup_sock", "lsm", "tracing", "xdp"}, nil, nil},
		{"guarded entry left out", "k_cg", cfg(), true, false, nil, nil, nil},
		{"no config counts every guard", "k_cg", nil, true, false, []string{"cgroup_skb", "cgroup_sock", "lsm", "tracing", "xdp"}, nil, nil},
		{"common set", "k_all", cfg(), true, true, nil, nil, nil},
		{"filtered set", "k_fs", cfg(), true, false, []string{"lsm", "tracing"}, []string{"fs_filter"}, nil},
		{"set never registered", "k_unregistered", cfg(), true, false, nil, nil, nil},
		{"unknown kfunc", "k_none", cfg(), false, false, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := tinySource(t).Lookup(tt.kfunc, tt.config)
			if ok != tt.ok || a.Common != tt.common || !slices.Equal(a.ProgTypes, tt.types) || !slices.Equal(a.Filters, tt.filters) || !slices.Equal(a.Undecided, tt.undecided) {
				t.Errorf("Lookup(%s) = %+v, %v", tt.kfunc, a, ok)
			}
		})
	}
	s := tinySource(t)
	s.Sets[0].Kfuncs[1].Guard = "BITS_PER_LONG == 32"
	a, _ := s.Lookup("k_cg", cfg())
	if !slices.Equal(a.Undecided, []Guard{"BITS_PER_LONG == 32"}) || !slices.Contains(a.ProgTypes, "xdp") {
		t.Errorf("an undecidable entry guard: %+v, want it counted and reported", a)
	}
}

func TestAccessAllows(t *testing.T) {
	a, _ := tinySource(t).Lookup("k_all", nil)
	for _, typ := range []string{"xdp", "sk_lookup", "anything"} {
		if !a.Allows(typ) {
			t.Errorf("common kfunc not allowed to %s", typ)
		}
	}
	g, _ := tinySource(t).Lookup("k_cg", Config(func(string) string { return "y" }))
	if g.Allows("sk_lookup") || !g.Allows("cgroup_sock") {
		t.Errorf("k_cg: %+v", g)
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Source)
	}{
		{"id set of no set", func(s *Source) { s.IDSets[0].Set = "nope" }},
		{"registration of no id set", func(s *Source) { s.Registrations[0].IDSet = "nope" }},
		{"type missing from the switch", func(s *Source) { s.Registrations[0].ProgType = "BPF_PROG_TYPE_SK_LOOKUP" }},
		{"no common hook", func(s *Source) { s.Hooks = s.Hooks[1:] }},
		{"type twice in the switch", func(s *Source) { s.Hooks = append(s.Hooks, s.Hooks[1]) }},
		{"same name twice in a file", func(s *Source) { s.IDSets = append(s.IDSets, s.IDSets[0]) }},
		{"ambiguous name from another file", func(s *Source) {
			s.Sets = append(s.Sets, Set{Name: "gen", File: "d.c", Line: 1})
			s.IDSets[0].File = "e.c"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tinySource(t)
			tt.edit(s)
			if _, err := s.resolve(); err == nil {
				t.Error("resolved")
			}
			if _, ok := s.Lookup("k_gen", nil); ok {
				t.Error("a source that does not resolve answered")
			}
		})
	}
	// A static name is found in its own file first, even when other files use it too.
	s := tinySource(t)
	l, err := s.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Sets[l.setOf[1]]; got.File != "a.c" || got.Name != "common" {
		t.Errorf("common_set resolves to %+v", got)
	}
}

func TestKfuncs(t *testing.T) {
	want := []string{"k_all", "k_cg", "k_fs", "k_gen", "k_unregistered"}
	if got := tinySource(t).Kfuncs(); !reflect.DeepEqual(got, want) {
		t.Errorf("Kfuncs() = %v", got)
	}
}
