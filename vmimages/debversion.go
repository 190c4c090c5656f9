package vmimages

import (
	"fmt"
	"strings"

	"pault.ag/go/debian/version"
)

// DebianVersion is a parsed Debian package version: [epoch:]upstream[-revision].
type DebianVersion struct {
	Epoch    int
	Upstream string
	Revision string
}

// ParseDebianVersion splits a Debian version into epoch, upstream version and revision following
// deb-version(7): the epoch ends at the first colon, the revision starts after the last hyphen.
// Parsing and ordering are pault.ag/go/debian/version's, a port of dpkg's own code; surrounding
// space is refused as well (the library trims it), because a version in kernels.lock is compared
// as written.
func ParseDebianVersion(s string) (DebianVersion, error) {
	if strings.TrimSpace(s) != s {
		return DebianVersion{}, fmt.Errorf("debian version %q: surrounding space", s)
	}
	v, err := version.Parse(s)
	if err != nil {
		return DebianVersion{}, fmt.Errorf("debian version %q: %w", s, err)
	}
	return DebianVersion{Epoch: int(v.Epoch), Upstream: v.Version, Revision: v.Revision}, nil
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

// Compare orders v against w as dpkg does (deb-version(7)); the result is -1, 0 or 1 (the
// library returns any sign-carrying difference).
func (v DebianVersion) Compare(w DebianVersion) int {
	c := version.Compare(v.library(), w.library())
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

func (v DebianVersion) library() version.Version {
	return version.Version{Epoch: uint(v.Epoch), Version: v.Upstream, Revision: v.Revision}
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
