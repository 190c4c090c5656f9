package vmimages

import "testing"

func TestCompareDebianVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"6.12.117-1", "6.12.117-1", 0},
		{"6.10.1-1", "6.3.1-1", 1}, // numeric, not string, order
		{"6.12.118-1", "6.12.117-1", 1},
		{"6.12.117-1", "6.12.117-1~deb12u1", 1}, // ~ sorts before the end
		{"6.1.192-2", "6.1.180-1~deb11u1", 1},
		{"7.3.4-1~bpo13+1", "7.3~rc7-1~exp1", 1}, // release beats rc
		{"7.3~rc7-1~exp1", "7.3-1", -1},
		{"7.3.4-1~bpo13+1", "7.3.4-1", -1}, // backport sorts before the unstable build
		{"7.2.13-1", "7.2.12-1~bpo13+1", 1},
		{"1:1.0-1", "2.0-1", 1}, // epoch wins
		{"1.0-1", "1.0-1+b1", -1},
		{"1.0a-1", "1.0-1", 1},    // letters sort after the end
		{"1.0a-1", "1.0+-1", -1},  // letters sort before other characters
		{"1.0~~-1", "1.0~-1", -1}, // two tildes before one
		{"1.010-1", "1.9-1", 1},   // leading zeros do not matter, magnitude does
		{"1.0001-1", "1.1-1", 0},  // same number
		{"5.10.262-1", "5.10.223-1", 1},
		{"99999999999999999999.1", "99999999999999999998.2", 1}, // no integer overflow
		{"bad version", "1.0-1", -1},                            // malformed sorts first
		{"1.0", "1.0-0", 0},                                     // an absent revision equals "0", as in dpkg
	}
	for _, tt := range tests {
		if got := CompareDebianVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareDebianVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := CompareDebianVersions(tt.b, tt.a); got != -tt.want {
			t.Errorf("CompareDebianVersions(%q, %q) = %d, want %d (antisymmetry)", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestParseDebianVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    DebianVersion
		wantErr bool
	}{
		{in: "6.12.117-1", want: DebianVersion{Upstream: "6.12.117", Revision: "1"}},
		{in: "2:1.2-3-4", want: DebianVersion{Epoch: 2, Upstream: "1.2-3", Revision: "4"}},
		{in: "7.3~rc7-1~exp1", want: DebianVersion{Upstream: "7.3~rc7", Revision: "1~exp1"}},
		{in: "1.0", want: DebianVersion{Upstream: "1.0"}},
		{in: "", wantErr: true},
		{in: "a1.0-1", wantErr: true},
		{in: "x:1.0", wantErr: true},
		{in: "1.0-", wantErr: true},
		{in: "1.0 -1", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseDebianVersion(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseDebianVersion(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("ParseDebianVersion(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestKernelUpstreamVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"5.10.262-1", "5.10.262"},
		{"6.1.180-1~deb11u1", "6.1.180"},
		{"7.3.4-1~bpo13+1", "7.3.4"},
		{"7.3~rc7-1~exp1", "7.3-rc7"},
	}
	for _, tt := range tests {
		got, err := kernelUpstreamVersion(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("kernelUpstreamVersion(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestInSeries(t *testing.T) {
	tests := []struct {
		upstream, series string
		want             bool
	}{
		{"6.12.117", "6.12", true},
		{"6.12", "6.12", true},
		{"7.3-rc7", "7.3", true},
		{"6.120.1", "6.12", false},
		{"6.1.192", "6.12", false},
		{"6.12.1", "6.1", false},
	}
	for _, tt := range tests {
		if got := inSeries(tt.upstream, tt.series); got != tt.want {
			t.Errorf("inSeries(%q, %q) = %v, want %v", tt.upstream, tt.series, got, tt.want)
		}
	}
}
