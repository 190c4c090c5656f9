package registry

import "testing"

// TestBuiltinKfuncs loads the kfuncs.yaml built into the binary, as the suite and the kfuncs
// commands do, and holds it to what people rely on: it loads, and every entry carries a
// description and a category the loader knows (sync proposes entries without prose; a person
// writes it before the change is merged).
func TestBuiltinKfuncs(t *testing.T) {
	ks, err := DefaultKfuncs()
	if err != nil {
		t.Fatalf("built-in kfuncs.yaml: %v", err)
	}
	if ks.Len() == 0 {
		t.Fatal("built-in kfuncs.yaml has no entries")
	}
	for _, k := range ks.All() {
		if k.Description == "" {
			t.Errorf("%s:%d: kfunc %s has no description", ks.File(), k.Line(), k.Name)
		}
	}
}
