package vmimages

import (
	"fmt"
	"strings"
)

// DebianVersion is a parsed Debian package version: [epoch:]upstream[-revision].
type DebianVersion struct {
	Epoch    int
	Upstream string
	Revision string
}

// ParseDebianVersion splits a Debian version into epoch, upstream version and revision following
// deb-version(7): the epoch ends at the first colon, the revision starts after the last hyphen.
func ParseDebianVersion(s string) (DebianVersion, error) {
	var v DebianVersion
	if s == "" {
		return v, fmt.Errorf("debian version: empty")
	}
	rest := s
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		epoch := 0
		if i == 0 {
			return v, fmt.Errorf("debian version %q: empty epoch", s)
		}
		for _, c := range rest[:i] {
			if c < '0' || c > '9' {
				return v, fmt.Errorf("debian version %q: epoch is not a number", s)
			}
			epoch = epoch*10 + int(c-'0')
		}
		v.Epoch = epoch
		rest = rest[i+1:]
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		v.Upstream, v.Revision = rest[:i], rest[i+1:]
		if v.Revision == "" {
			return v, fmt.Errorf("debian version %q: empty revision", s)
		}
	} else {
		v.Upstream = rest
	}
	if v.Upstream == "" || v.Upstream[0] < '0' || v.Upstream[0] > '9' {
		return v, fmt.Errorf("debian version %q: upstream version must start with a digit", s)
	}
	for _, c := range v.Upstream + v.Revision {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune(".+~-:", c)) {
			return v, fmt.Errorf("debian version %q: invalid character %q", s, c)
		}
	}
	return v, nil
}

// CompareDebianVersions orders two Debian version strings the way dpkg does: negative when a < b,
// zero when equal, positive when a > b. Strings that do not parse sort before those that do and
// among themselves by plain comparison, so a malformed index entry can never win as "newest".
func CompareDebianVersions(a, b string) int {
	va, ea := ParseDebianVersion(a)
	vb, eb := ParseDebianVersion(b)
	switch {
	case ea != nil && eb != nil:
		return strings.Compare(a, b)
	case ea != nil:
		return -1
	case eb != nil:
		return 1
	}
	return va.Compare(vb)
}

// Compare orders v against w as dpkg does (deb-version(7)); the result is -1, 0 or 1.
func (v DebianVersion) Compare(w DebianVersion) int {
	if v.Epoch != w.Epoch {
		if v.Epoch < w.Epoch {
			return -1
		}
		return 1
	}
	if c := compareVersionPart(v.Upstream, w.Upstream); c != 0 {
		return c
	}
	return compareVersionPart(v.Revision, w.Revision)
}

// compareVersionPart implements dpkg's verrevcmp: alternating runs of non-digits (compared
// character by character with order()) and digits (compared numerically, without overflow).
func compareVersionPart(a, b string) int {
	for a != "" || b != "" {
		for (a != "" && !isDigit(a[0])) || (b != "" && !isDigit(b[0])) {
			ac, bc := order(a), order(b)
			if ac != bc {
				return sign(ac - bc)
			}
			a, b = a[1:], b[1:] // both are non-digits here: order() differs otherwise
		}
		da, db := strings.TrimLeft(digitRun(a), "0"), strings.TrimLeft(digitRun(b), "0")
		a, b = strings.TrimLeft(a, "0123456789"), strings.TrimLeft(b, "0123456789")
		if len(da) != len(db) {
			return sign(len(da) - len(db))
		}
		if c := strings.Compare(da, db); c != 0 {
			return c
		}
	}
	return 0
}

// order gives the first character of s its dpkg weight: '~' sorts before everything, even the
// end of the string (so 7.3~rc7 < 7.3); the end and digits weigh 0; letters sort before the other
// characters.
func order(s string) int {
	if s == "" || isDigit(s[0]) {
		return 0
	}
	c := s[0]
	switch {
	case c == '~':
		return -1
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return int(c)
	default:
		return int(c) + 256
	}
}

func digitRun(s string) string {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// kernelUpstreamVersion derives the upstream kernel version people use ("6.12.117", "7.3-rc7")
// from a Debian kernel package version ("6.12.117-1", "6.1.180-1~deb11u1", "7.3~rc7-1~exp1").
// Debian spells release candidates with '~' so that they sort before the release.
func kernelUpstreamVersion(debianVersion string) (string, error) {
	v, err := ParseDebianVersion(debianVersion)
	if err != nil {
		return "", err
	}
	return strings.Replace(v.Upstream, "~", "-", 1), nil
}

// inSeries reports whether an upstream kernel version belongs to a series: "6.12.117" and
// "6.12-rc3" are in series "6.12", "6.120.1" is not.
func inSeries(upstream, series string) bool {
	if !strings.HasPrefix(upstream, series) {
		return false
	}
	rest := upstream[len(series):]
	return rest == "" || rest[0] == '.' || rest[0] == '-'
}
