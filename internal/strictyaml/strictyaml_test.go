package strictyaml

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestFields(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string // the keys returned, sorted, when no error
		wantErr   string
	}{
		{"all keys", "a: 1\nb: x\n", []string{"a", "b"}, ""},
		{"some keys", "b: x\n", []string{"b"}, ""},
		{"empty mapping", "{}\n", nil, ""},
		{"unknown key", "a: 1\nc: 2\n", nil, `f.yaml:2: unknown key "c" (allowed: a, b)`},
		{"key twice", "a: 1\nb: 2\na: 3\n", nil, `f.yaml:3: key "a" given twice`},
		{"a list", "- a\n- b\n", nil, "f.yaml:1: expected a mapping of a, b"},
		{"a scalar", "a\n", nil, "f.yaml:1: expected a mapping of a, b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.doc), &doc); err != nil {
				t.Fatal(err)
			}
			got, err := Fields(doc.Content[0], "f.yaml", "a", "b")
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, k := range []string{"a", "b"} {
				if n, ok := got[k]; ok {
					keys = append(keys, k)
					if n.Kind != yaml.ScalarNode {
						t.Errorf("%s: value node of kind %d, want a scalar", k, n.Kind)
					}
				}
			}
			if strings.Join(keys, ",") != strings.Join(tt.want, ",") || len(got) != len(tt.want) {
				t.Errorf("keys %v, want %v", keys, tt.want)
			}
		})
	}
}

func TestDocument(t *testing.T) {
	tests := []struct {
		name, data string
		kind       yaml.Kind // of the document read, when no error
		wantErr    string
	}{
		{"one document", "a: 1\n", yaml.DocumentNode, ""},
		{"explicit start", "---\na: 1\n", yaml.DocumentNode, ""},
		{"empty file", "", 0, ""},
		{"second document", "a: 1\n---\nb: 2\n", 0, `f.yaml:2: a second YAML document starts here`},
		{"empty second document", "a: 1\n\n---\n", 0, `f.yaml:3: a second YAML document starts here`},
		{"not YAML", "a: [\n", 0, "f.yaml: yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Document([]byte(tt.data), "f.yaml")
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want it to start with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || doc.Kind != tt.kind {
				t.Fatalf("document of kind %d, error %v; want kind %d", doc.Kind, err, tt.kind)
			}
		})
	}
}

func TestRecords(t *testing.T) {
	tests := []struct {
		name, data string
		want       int // records, when no error
		wantErr    string
	}{
		{"two records", "items:\n  - a: 1\n  - a: 2\n", 2, ""},
		{"empty list", "items: []\n", 0, ""},
		{"empty file", "# nothing pinned yet\n", 0, ""},
		{"no key", "{}\n", 0, ""},
		{"key without a value", "items:\n", 0, ""},
		{"not a list", "items: 3\n", 0, `f.yaml:1: "items" must be a list`},
		{"another key", "items: []\nother: 1\n", 0, `f.yaml:2: unknown key "other" (allowed: items)`},
		{"root not a mapping", "- a: 1\n", 0, "f.yaml:1: expected a mapping of items"},
		{"second document", "items: []\n---\nitems: []\n", 0, "f.yaml:2: a second YAML document starts here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := Records([]byte(tt.data), "f.yaml", "items")
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want it to start with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(items) != tt.want {
				t.Fatalf("%d records, error %v; want %d", len(items), err, tt.want)
			}
		})
	}
}
