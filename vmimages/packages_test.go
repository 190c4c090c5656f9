package vmimages

import (
	"slices"
	"strings"
	"testing"
)

// TestIndexKeep checks that an index asked for named packages holds exactly their stanzas, and
// that the default still holds the kernel packages only.
func TestIndexKeep(t *testing.T) {
	const packages = "Package: xdp-tools\nVersion: 1.3.1-1\nArchitecture: amd64\nSize: 10\nSHA256: aa\n\n" +
		"Package: linux-image-6.1.0-56-cloud-amd64\nVersion: 6.1.192-2\nArchitecture: amd64\n\n" +
		"Package: libxdp1\nVersion: 1.3.1-1\nArchitecture: amd64\n"
	for _, tc := range []struct {
		name string
		keep func(string) bool
		want []string
	}{
		{"default", nil, []string{"linux-image-6.1.0-56-cloud-amd64"}},
		{"named", func(p string) bool { return p == "xdp-tools" || p == "libxdp1" }, []string{"libxdp1", "xdp-tools"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idx := &packageIndex{keep: tc.keep}
			if err := idx.add(strings.NewReader(packages), "bookworm", "Packages"); err != nil {
				t.Fatal(err)
			}
			var got []string
			for n := range idx.byName {
				got = append(got, n)
			}
			if strings.Join(slices.Sorted(slices.Values(got)), ",") != strings.Join(tc.want, ",") {
				t.Errorf("index holds %v, want %v", got, tc.want)
			}
		})
	}
}
