package vmimages

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Environment variables that name the Debian archive when the machine's apt configuration does
// not (an Ubuntu CI runner), or when the user wants another mirror.
const (
	EnvDebianMirror         = "BPFMATRIX_DEBIAN_MIRROR"
	EnvDebianSecurityMirror = "BPFMATRIX_DEBIAN_SECURITY_MIRROR"
	EnvDebianKeyring        = "BPFMATRIX_DEBIAN_KEYRING"
)

// DefaultDebianKeyring is where the debian-archive-keyring package (shipped by Debian and Ubuntu)
// installs the keys that sign the Debian archive.
const DefaultDebianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// AptSource is one "deb" entry of an apt configuration, in either file format.
type AptSource struct {
	URI        string
	Suites     []string
	Components []string
	File       string // where it was read, for messages
	Line       int
}

// DebianArchive is where Debian kernel packages are fetched from.
type DebianArchive struct {
	Mirror         string // the main archive (bullseye, bookworm, trixie, sid, experimental, backports)
	SecurityMirror string // the security archive (<codename>-security); empty when unknown
	Keyring        string // OpenPGP keyring apt checks the archive's Release files with
}

// debianCodenames are the suite names that identify an entry of the main Debian archive. A
// Debian-derived distribution uses codenames of its own, so an Ubuntu machine matches none.
var debianCodenames = map[string]bool{
	"buster": true, "bullseye": true, "bookworm": true, "trixie": true, "forky": true, "duke": true,
	"sid": true, "experimental": true, "unstable": true, "testing": true, "stable": true,
	"oldstable": true, "oldoldstable": true,
}

// ReadAptSources reads the "deb" entries of the one-line sources.list file (if it exists) and of
// every *.list and deb822 *.sources file in the parts directory, in the order apt reads them.
// Disabled entries (deb822 "Enabled: no") and deb-src entries are left out.
func ReadAptSources(sourcesList, partsDir string) ([]AptSource, error) {
	var out []AptSource
	if sourcesList != "" {
		srcs, err := readSourcesFile(sourcesList)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		out = append(out, srcs...)
	}
	if partsDir != "" {
		ents, err := os.ReadDir(partsDir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read apt sources: %w", err)
		}
		var names []string
		for _, e := range ents {
			if !e.IsDir() && (strings.HasSuffix(e.Name(), ".list") || strings.HasSuffix(e.Name(), ".sources")) {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			srcs, err := readSourcesFile(filepath.Join(partsDir, n))
			if err != nil {
				return nil, err
			}
			out = append(out, srcs...)
		}
	}
	return out, nil
}

func readSourcesFile(path string) ([]AptSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read apt sources: %w", err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".sources") {
		return parseDeb822Sources(f, path)
	}
	return parseOneLineSources(f, path)
}

// parseOneLineSources parses the classic format: "deb [options] uri suite [component...]".
func parseOneLineSources(r io.Reader, file string) ([]AptSource, error) {
	var out []AptSource
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		typ := fields[0]
		fields = fields[1:]
		if len(fields) > 0 && strings.HasPrefix(fields[0], "[") {
			// Options may contain spaces: "[ arch=amd64 signed-by=/k.gpg ]".
			for len(fields) > 0 {
				last := strings.HasSuffix(fields[0], "]")
				fields = fields[1:]
				if last {
					break
				}
			}
		}
		if typ != "deb" {
			continue
		}
		// A CD-ROM URI carries the disc's label in brackets, spaces included.
		if len(fields) > 0 && strings.HasPrefix(fields[0], "cdrom:[") && !strings.Contains(fields[0], "]") {
			for len(fields) > 1 && !strings.Contains(fields[0], "]") {
				fields = append([]string{fields[0] + " " + fields[1]}, fields[2:]...)
			}
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s:%d: apt source needs a URI and a suite", file, line)
		}
		out = append(out, AptSource{URI: fields[0], Suites: fields[1:2], Components: fields[2:], File: file, Line: line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return out, nil
}

// parseDeb822Sources parses the deb822 format of sources.list(5): stanzas of "Field: value"
// lines separated by blank lines; continuation lines start with white space.
func parseDeb822Sources(r io.Reader, file string) ([]AptSource, error) {
	var out []AptSource
	fields := map[string]string{}
	start := 0
	flush := func() {
		defer func() { fields = map[string]string{}; start = 0 }()
		if len(fields) == 0 || strings.EqualFold(fields["enabled"], "no") {
			return
		}
		isDeb := false
		for _, t := range strings.Fields(fields["types"]) {
			isDeb = isDeb || t == "deb"
		}
		if !isDeb {
			return
		}
		for _, uri := range strings.Fields(fields["uris"]) {
			for _, suite := range strings.Fields(fields["suites"]) {
				out = append(out, AptSource{URI: uri, Suites: []string{suite}, Components: strings.Fields(fields["components"]), File: file, Line: start})
			}
		}
	}
	sc := bufio.NewScanner(r)
	last := ""
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		switch {
		case strings.TrimSpace(text) == "":
			flush()
			last = ""
		case strings.HasPrefix(text, "#"):
		case text[0] == ' ' || text[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("%s:%d: continuation line without a field", file, line)
			}
			fields[last] += " " + strings.TrimSpace(text)
		default:
			k, v, ok := strings.Cut(text, ":")
			if !ok {
				return nil, fmt.Errorf("%s:%d: expected \"Field: value\"", file, line)
			}
			if start == 0 {
				start = line
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	flush()
	return out, nil
}

// isSecurityArchive tells the security archive from the main one: its path ends in
// "debian-security" and its suites are "<codename>-security".
func isSecurityArchive(s AptSource) bool {
	u := strings.TrimRight(s.URI, "/")
	if strings.HasSuffix(u, "debian-security") {
		return true
	}
	for _, suite := range s.Suites {
		if strings.HasSuffix(suite, "-security") || strings.HasSuffix(suite, "/updates") {
			return true
		}
	}
	return false
}

// isDebianMainArchive reports whether an entry serves a Debian codename's main component.
func isDebianMainArchive(s AptSource) bool {
	if !hasComponent(s, "main") || strings.HasPrefix(s.URI, "cdrom:") {
		return false
	}
	for _, suite := range s.Suites {
		base, _, _ := strings.Cut(suite, "-") // bookworm-updates, trixie-backports
		if debianCodenames[base] {
			return true
		}
	}
	return false
}

// FindDebianArchive derives the Debian archive addresses from apt entries, letting the
// environment override them (getenv is os.Getenv outside tests). It fails with instructions when
// no Debian archive is known, which is the case on machines whose apt is not Debian's.
func FindDebianArchive(sources []AptSource, getenv func(string) string) (DebianArchive, error) {
	a := DebianArchive{
		Mirror:         strings.TrimSpace(getenv(EnvDebianMirror)),
		SecurityMirror: strings.TrimSpace(getenv(EnvDebianSecurityMirror)),
		Keyring:        strings.TrimSpace(getenv(EnvDebianKeyring)),
	}
	for _, s := range sources {
		if isSecurityArchive(s) {
			// Take a security entry only when it is Debian's: its path says so, or its suites are
			// "<Debian codename>-security" (another distribution's are not).
			debian := strings.HasSuffix(strings.TrimRight(s.URI, "/"), "debian-security") || isDebianMainArchive(securityBase(s))
			if a.SecurityMirror == "" && debian && hasComponent(s, "main") {
				a.SecurityMirror = s.URI
			}
			continue
		}
		if a.Mirror == "" && isDebianMainArchive(s) {
			a.Mirror = s.URI
		}
	}
	if a.Keyring == "" {
		a.Keyring = DefaultDebianKeyring
	}
	if a.Mirror == "" {
		return a, fmt.Errorf("no Debian archive found in the apt configuration (this machine's apt does not use Debian): set %s to a Debian mirror URL (and %s to a Debian security mirror for the newest 5.10 and 6.1 builds), and install the debian-archive-keyring package", EnvDebianMirror, EnvDebianSecurityMirror)
	}
	for _, m := range []string{a.Mirror, a.SecurityMirror} {
		if m == "" {
			continue
		}
		if u, err := url.Parse(m); err != nil || u.Scheme == "" {
			return a, fmt.Errorf("Debian mirror %q: not a URL (set %s / %s to e.g. an http:// address)", m, EnvDebianMirror, EnvDebianSecurityMirror)
		}
	}
	if _, err := os.Stat(a.Keyring); err != nil {
		return a, fmt.Errorf("Debian archive keyring %s is missing: install the debian-archive-keyring package (or set %s): %w", a.Keyring, EnvDebianKeyring, err)
	}
	return a, nil
}

// securityBase rewrites a "<codename>-security" entry's suites to the codename so that
// isDebianMainArchive can tell a Debian security entry from another distribution's.
func securityBase(s AptSource) AptSource {
	c := s
	c.Suites = nil
	for _, suite := range s.Suites {
		c.Suites = append(c.Suites, strings.TrimSuffix(strings.TrimSuffix(suite, "-security"), "/updates"))
	}
	return c
}

func hasComponent(s AptSource, component string) bool {
	for _, c := range s.Components {
		if c == component {
			return true
		}
	}
	return false
}
