package observation

import (
	"strings"
	"testing"
)

func TestParseArch(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "amd64", want: "amd64"},
		{in: "arm64", want: "arm64"},
		{in: "", err: "no architecture given"},
		{in: "x86_64", err: `unknown architecture "x86_64"`},
		{in: "ARM64", err: `unknown architecture "ARM64"`},
	} {
		got, err := ParseArch(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseArch(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("ParseArch(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestKernelLabel(t *testing.T) {
	for _, tc := range []struct {
		kernel string
		arch   Arch
		want   string
	}{
		{"6.12", "", "6.12"},
		{"6.12", ArchAMD64, "6.12"},
		{"6.12", ArchARM64, "6.12-arm64"},
		{"mybuild", ArchARM64, "mybuild-arm64"},
	} {
		if got := KernelLabel(tc.kernel, tc.arch); got != tc.want {
			t.Errorf("KernelLabel(%q, %q) = %q, want %q", tc.kernel, tc.arch, got, tc.want)
		}
	}
}

func TestArchOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  *Document
		want Arch
	}{
		{"no document", nil, ArchAMD64},
		{"host probe", &Document{}, ArchAMD64},
		{"amd64 guest", &Document{Guest: &Guest{}}, ArchAMD64},
		{"arm64 guest", &Document{Guest: &Guest{Image: Image{Arch: ArchARM64}}}, ArchARM64},
	} {
		if got := ArchOf(tc.doc); got != tc.want {
			t.Errorf("%s: ArchOf = %q, want %q", tc.name, got, tc.want)
		}
	}
}
