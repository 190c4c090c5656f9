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
