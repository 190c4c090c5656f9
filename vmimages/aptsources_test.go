package vmimages

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

func TestReadAptSources(t *testing.T) {
	tests := []struct {
		dir  string
		want []string // "uri suite components file:line"
	}{
		{"apt-debian", []string{
			"http://mirror.example.org/debian bookworm main debian.sources:2",
			"http://mirror.example.org/debian bookworm-updates main debian.sources:2",
			"http://mirror.example.org/debian-security/ bookworm-security main,contrib debian.sources:9",
			"https://nodejs.example.org/node_20.x nodistro main nodejs.sources:1",
		}},
		{"apt-oneline", []string{
			"http://one.example.org/debian bullseye main,contrib sources.list:3",
			"http://one.example.org/debian-security bullseye-security main sources.list:4",
			"cdrom:[Debian GNU/Linux 11]/ bullseye main sources.list:5",
			"http://second.example.org/debian bookworm-backports main extra.list:1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", tt.dir)
			srcs, err := ReadAptSources(filepath.Join(dir, "sources.list"), filepath.Join(dir, "sources.list.d"))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range srcs {
				got = append(got, s.URI+" "+strings.Join(s.Suites, ",")+" "+strings.Join(s.Components, ",")+" "+filepath.Base(s.File)+":"+strconv.Itoa(s.Line))
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d sources:\n%s", len(got), strings.Join(got, "\n"))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("source %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseDeb822Errors(t *testing.T) {
	_, err := parseDeb822Sources(strings.NewReader("Types: deb\n  continued\nnot a field\n"), "x.sources")
	if err == nil || !strings.Contains(err.Error(), "x.sources:3:") {
		t.Errorf("error = %v, want x.sources:3", err)
	}
	_, err = parseOneLineSources(strings.NewReader("deb http://x\n"), "x.list")
	if err == nil || !strings.Contains(err.Error(), "x.list:1: apt source needs a URI and a suite") {
		t.Errorf("error = %v", err)
	}
}

func TestFindDebianArchive(t *testing.T) {
	keyring := testenv.WriteFile(t, filepath.Join(t.TempDir(), "keyring.gpg"), []byte("k"))
	read := func(dir string) []AptSource {
		d := filepath.Join("testdata", dir)
		srcs, err := ReadAptSources(filepath.Join(d, "sources.list"), filepath.Join(d, "sources.list.d"))
		if err != nil {
			t.Fatal(err)
		}
		return srcs
	}
	tests := []struct {
		name           string
		dir            string
		env            map[string]string
		mirror, secure string
		wantErr        string
	}{
		{name: "deb822", dir: "apt-debian", mirror: "http://mirror.example.org/debian", secure: "http://mirror.example.org/debian-security/"},
		{name: "one-line", dir: "apt-oneline", mirror: "http://one.example.org/debian", secure: "http://one.example.org/debian-security"},
		{name: "env overrides config", dir: "apt-debian", env: map[string]string{EnvDebianMirror: "http://env.example.org/debian"}, mirror: "http://env.example.org/debian", secure: "http://mirror.example.org/debian-security/"},
		{name: "ubuntu", dir: "apt-ubuntu", wantErr: "set BPFMATRIX_DEBIAN_MIRROR to a Debian mirror URL"},
		{name: "ubuntu names the keyring package", dir: "apt-ubuntu", wantErr: "install the debian-archive-keyring package"},
		{name: "ubuntu with env", dir: "apt-ubuntu", env: map[string]string{EnvDebianMirror: "http://env.example.org/debian", EnvDebianSecurityMirror: "http://env.example.org/debian-security"}, mirror: "http://env.example.org/debian", secure: "http://env.example.org/debian-security"},
		{name: "ubuntu with main mirror only", dir: "apt-ubuntu", env: map[string]string{EnvDebianMirror: "http://env.example.org/debian"}, mirror: "http://env.example.org/debian"},
		{name: "bad env url", dir: "apt-ubuntu", env: map[string]string{EnvDebianMirror: "not a url"}, wantErr: `Debian mirror "not a url": not a URL`},
		{name: "missing keyring", dir: "apt-debian", env: map[string]string{EnvDebianKeyring: "/nonexistent/keyring.gpg"}, wantErr: "install the debian-archive-keyring package"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if v, ok := tt.env[k]; ok {
					return v
				}
				if k == EnvDebianKeyring {
					return keyring
				}
				return ""
			}
			a, err := FindDebianArchive(read(tt.dir), getenv)
			if testenv.WantErr(t, err, tt.wantErr) {
				return
			}
			if a.Mirror != tt.mirror || a.SecurityMirror != tt.secure {
				t.Errorf("got mirror %q security %q, want %q %q", a.Mirror, a.SecurityMirror, tt.mirror, tt.secure)
			}
		})
	}
}
