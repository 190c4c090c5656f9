package registry

import (
	"errors"
	"sort"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want Version
		str  string
	}{
		{"6.12", Version{6, 12, 0, false}, "6.12"},
		{"6.12.117", Version{6, 12, 117, true}, "6.12.117"},
		{"6.12.117+deb13-cloud-amd64", Version{6, 12, 117, true}, "6.12.117"},
		{"5.10.0-32-cloud-amd64", Version{5, 10, 0, true}, "5.10.0"},
		{"6.18.44-fc-v669", Version{6, 18, 44, true}, "6.18.44"},
		{"7.3.4-1~exp1", Version{7, 3, 4, true}, "7.3.4"},
		{"3.19", Version{3, 19, 0, false}, "3.19"},
		{"6.10", Version{6, 10, 0, false}, "6.10"},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want || got.String() != tt.str {
			t.Errorf("ParseVersion(%q) = %#v (%s), want %#v (%s)", tt.in, got, got, tt.want, tt.str)
		}
	}
}

func TestParseVersionErrors(t *testing.T) {
	for _, in := range []string{"", "6", "6.", ".6", "6.x", "6.1.2.3", "v6.1", "0.1", "6.1a", "6..1", "-6.1", "6.1 ", "99999999.1"} {
		if v, err := ParseVersion(in); !errors.Is(err, ErrBadVersion) {
			t.Errorf("ParseVersion(%q) = %v, %v; want ErrBadVersion", in, v, err)
		}
	}
}

func TestVersionOrderIsNumeric(t *testing.T) {
	// Sorted by hand the way the kernel releases came out; a string sort puts 6.10 before 6.3.
	ordered := []string{"3.19", "4.1", "4.9", "4.10", "4.20", "5.0", "5.1", "5.9", "5.10", "5.10.223", "6.1", "6.3", "6.9", "6.10", "6.12.9", "6.12.117", "7.0"}
	vs := make([]Version, len(ordered))
	for i, s := range ordered {
		vs[i] = MustParseVersion(s)
	}
	shuffled := append([]Version(nil), vs...)
	sort.Slice(shuffled, func(i, j int) bool { return shuffled[i].String() > shuffled[j].String() })
	sort.Slice(shuffled, func(i, j int) bool { return shuffled[i].Less(shuffled[j]) })
	for i := range vs {
		if shuffled[i].Compare(vs[i]) != 0 {
			t.Fatalf("numeric sort gave %v, want %v", shuffled, vs)
		}
	}
	for i := 0; i+1 < len(vs); i++ {
		if !vs[i].Less(vs[i+1]) || vs[i+1].Less(vs[i]) || vs[i].Compare(vs[i+1]) != -1 {
			t.Errorf("want %s < %s", vs[i], vs[i+1])
		}
	}
	if MustParseVersion("6.12").Compare(MustParseVersion("6.12.0")) != 0 {
		t.Error("6.12 and 6.12.0 should compare equal")
	}
}

func TestVersionText(t *testing.T) {
	var v Version
	if err := v.UnmarshalText([]byte("6.10")); err != nil {
		t.Fatal(err)
	}
	b, _ := v.MarshalText()
	if string(b) != "6.10" {
		t.Errorf("round trip of 6.10 gave %s", b)
	}
	if err := v.UnmarshalText([]byte("six")); err == nil {
		t.Error("UnmarshalText accepted six")
	}
}
