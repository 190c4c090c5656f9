package registry

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is a Linux kernel version. Versions compare numerically, field by field: 6.10 is newer
// than 6.3, which the string comparison many helper tables use gets wrong.
type Version struct {
	Major, Minor, Patch int
	// HasPatch records whether the patch level was written, so that "6.12" prints as it was
	// given; it does not take part in comparisons (6.12 equals 6.12.0).
	HasPatch bool
}

// ErrBadVersion is returned (wrapped) for strings that are not kernel versions.
var ErrBadVersion = errors.New("malformed kernel version")

// ParseVersion reads a kernel version such as "6.12", "6.12.117", a Debian package version such as
// "6.12.117-1", or a uname release such as "6.12.117+deb13-cloud-amd64" or "5.10.0-32-cloud-amd64".
// Anything after the numeric part must start with '-', '+' or '~'.
func ParseVersion(s string) (Version, error) {
	num := s
	if i := strings.IndexAny(s, "-+~"); i >= 0 {
		num = s[:i]
	}
	parts := strings.Split(num, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("%w: %q (want MAJOR.MINOR or MAJOR.MINOR.PATCH)", ErrBadVersion, s)
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 6 || strings.TrimLeft(p, "0123456789") != "" {
			return Version{}, fmt.Errorf("%w: %q", ErrBadVersion, s)
		}
		v, err := strconv.Atoi(p)
		if err != nil {
			return Version{}, fmt.Errorf("%w: %q", ErrBadVersion, s)
		}
		n[i] = v
	}
	if n[0] == 0 {
		return Version{}, fmt.Errorf("%w: %q (major version 0)", ErrBadVersion, s)
	}
	return Version{Major: n[0], Minor: n[1], Patch: n[2], HasPatch: len(parts) == 3}, nil
}

// MustParseVersion is ParseVersion for constants in code and tests; it panics on error.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than o.
func (v Version) Compare(o Version) int {
	switch {
	case v.Major != o.Major:
		return sign(v.Major - o.Major)
	case v.Minor != o.Minor:
		return sign(v.Minor - o.Minor)
	default:
		return sign(v.Patch - o.Patch)
	}
}

// Less reports whether v is older than o.
func (v Version) Less(o Version) bool { return v.Compare(o) < 0 }

// Series returns the MAJOR.MINOR release series v belongs to.
func (v Version) Series() Version { return Version{Major: v.Major, Minor: v.Minor} }

// IsZero reports whether v is the zero Version, which no parsed version is.
func (v Version) IsZero() bool { return v.Major == 0 }

// String prints v as MAJOR.MINOR, or MAJOR.MINOR.PATCH when the patch level was given.
func (v Version) String() string {
	if v.HasPatch {
		return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

// MarshalText writes v as a string: JSON and YAML consumers must never see a version as a
// number, because 6.10 would become 6.1.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses a version written by MarshalText.
func (v *Version) UnmarshalText(b []byte) error {
	p, err := ParseVersion(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

func sign(d int) int {
	switch {
	case d < 0:
		return -1
	case d > 0:
		return 1
	}
	return 0
}
