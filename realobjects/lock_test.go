package realobjects

import (
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

const (
	sumA = "3978ad58054e6854755808b3195db6eda40fe4a43a19075966fa4937751a66eb"
	sumB = "9163ffa5255245db2f1e9da16ce441a0644a282b0fedfb5cec4b28f15741c857"
)

// goodLock is a valid lock; the bad cases below change one line of it.
var goodLock = `packages:
  - package: "libxdp1"
    version: "1.3.1-1"
    suite: "bookworm"
    deb_sha256: "` + sumA + `"
    objects:
      - file: "usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o"
        sha256: "` + sumA + `"
      - file: "usr/sbin/xdp-bench"
        offset: 120432
        sha256: "` + sumB + `"
`

func TestParseLock(t *testing.T) {
	l, err := ParseLock([]byte(goodLock), "x.lock")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Packages) != 1 || len(l.Packages[0].Objects) != 2 {
		t.Fatalf("parsed %+v", l)
	}
	o := l.Packages[0].Objects
	if o[0].Offset != -1 || o[1].Offset != 120432 || o[1].CacheName() != "xdp-bench@120432.o" || o[0].CacheName() != "xdp-dispatcher.o" {
		t.Errorf("objects %+v", o)
	}
	if back, err := ParseLock(l.Marshal(), "x.lock"); err != nil || len(back.Packages[0].Objects) != 2 || back.Packages[0].Objects[1] != (ObjectPin{File: o[1].File, Offset: o[1].Offset, SHA256: o[1].SHA256, Line: back.Packages[0].Objects[1].Line}) {
		t.Errorf("Marshal does not round-trip: %v %+v", err, back)
	}
}

func TestParseLockErrors(t *testing.T) {
	dup := strings.Replace(goodLock, "    objects:\n", "    objects:\n      - file: \"usr/sbin/xdp-bench\"\n        offset: 120432\n        sha256: \""+sumA+"\"\n", 1)
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown top key", "packages:", "pkgs:", `x.lock:1: unknown key "pkgs"`},
		{"unknown package key", `    suite: "bookworm"`, `    suit: "bookworm"`, `x.lock:4: unknown key "suit"`},
		{"unknown object key", `        offset: 120432`, `        ofset: 120432`, `x.lock:10: unknown key "ofset"`},
		{"repeated key", `    suite: "bookworm"`, "    suite: \"bookworm\"\n    suite: \"trixie\"", `x.lock:5: key "suite" given twice`},
		{"bad deb hash", `deb_sha256: "` + sumA + `"`, `deb_sha256: "` + strings.ToUpper(sumA) + `"`, "x.lock:5: package libxdp1: deb_sha256"},
		{"short object hash", `sha256: "` + sumB + `"`, `sha256: "abc"`, "x.lock:11: object usr/sbin/xdp-bench: sha256 \"abc\" is not a sha256"},
		{"bad offset", `offset: 120432`, `offset: -5`, "x.lock:10: object usr/sbin/xdp-bench: offset \"-5\""},
		{"bad version", `version: "1.3.1-1"`, `version: "one"`, "x.lock:3: package libxdp1:"},
		{"missing hash", `    deb_sha256: "` + sumA + "\"\n", "", "x.lock:2: package entry without deb_sha256"},
		{"unclean path", `file: "usr/sbin/xdp-bench"`, `file: "/usr/sbin/xdp-bench"`, `x.lock:9: file "/usr/sbin/xdp-bench" is not a clean path`},
		{"no objects", goodLock[strings.Index(goodLock, "    objects:"):], "    objects: []\n", "x.lock:2: package libxdp1: objects must be a non-empty list"},
		{"object twice", goodLock, dup, "x.lock:12: package libxdp1: object xdp-bench@120432.o is pinned twice (first at line 7)"},
		{"package twice", goodLock, goodLock + strings.TrimPrefix(goodLock, "packages:\n"), "x.lock:12: package libxdp1=1.3.1-1 is pinned twice (first at line 2)"},
		{"second document", goodLock, goodLock + "---\n" + goodLock, "x.lock:12: a second YAML document starts here"},
		{"packages not a list", goodLock, "packages: {}\n", `x.lock:1: "packages" must be a list`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := strings.Replace(goodLock, tc.old, tc.new, 1)
			if data == goodLock && tc.old != goodLock {
				t.Fatalf("the case changes nothing")
			}
			_, err := ParseLock([]byte(data), "x.lock")
			testenv.WantErr(t, err, tc.want)
		})
	}
}

// TestPinnedLock checks the lock built into the package: it loads, pins libxdp1 and xdp-tools,
// and no suite pins an object twice.
func TestPinnedLock(t *testing.T) {
	l, err := Pinned()
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]bool{}
	sums := map[string]bool{} // suite and sha256
	for _, p := range l.Packages {
		pkgs[p.Package] = true
		for _, o := range p.Objects {
			if sums[p.Suite+" "+o.SHA256] {
				t.Errorf("%s:%d: object %s pinned twice in %s", PinnedLockFile, o.Line, o.SHA256, p.Suite)
			}
			sums[p.Suite+" "+o.SHA256] = true
		}
	}
	if !pkgs["libxdp1"] || !pkgs["xdp-tools"] {
		t.Errorf("pinned packages %v, want libxdp1 and xdp-tools", pkgs)
	}
}
