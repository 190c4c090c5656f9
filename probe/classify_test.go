package probe

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// goldenKinds is the expected outcome of each kind of golden log (the file name without .log).
var goldenKinds = map[string]string{
	"unknown-id":                 UnknownID,
	"not-for-type":               NotForType,
	"gpl-only":                   GPLOnly,
	"supported-arg-error":        Supported,
	"supported-arg-map":          Supported,
	"supported-arg-func":         Supported,
	"supported-loaded":           Supported,
	"supported-iter-sleepable":   Supported,
	"supported-uprobe-sleepable": Supported,
	"not-for-target":             NotForTarget,
	"sleepable-only":             SleepableOnly,
	"sleepable-only-iter":        SleepableOnly,
	"lsm-non-gpl":                Inconclusive, // "LSM programs must have a GPL compatible license"
	"lsm-supported":              Supported,
	"lsm-eperm":                  Inconclusive,
	"fentry":                     Supported,
	"fentry-eperm":               Inconclusive,
	"syscall":                    Supported,
	"syscall-not-sleepable":      Inconclusive,
	"netfilter":                  Supported,
	"sk-lookup":                  Supported,
	"cgroup-sockopt":             Supported,
	"struct-ops":                 Supported,
	"struct-ops-non-gpl":         Inconclusive,
	"lirc-mode2":                 Inconclusive, // compiled out of Debian's cloud kernels
	// A return value outside the attach type's range: no rule, so it must not be guessed.
	"recvmsg-returns-0": Unclassified,
}

// goldenExceptions are the files whose kernel answers differently from the kind's name.
var goldenExceptions = map[string]string{
	// 5.10 offered copy_from_user to sleepable programs only: others are told "unknown func".
	"5.10/sleepable-only":      NotForType,
	"5.10/sleepable-only-iter": NotForType,
	// syscall programs arrived in 5.14, netfilter programs in 6.4.
	"5.10/syscall":   Inconclusive,
	"5.10/netfilter": Inconclusive,
	"6.1/netfilter":  Inconclusive,
}

var headerRE = regexp.MustCompile(`^# kernel=(\S+) errno=(\d+) \([^)]*\) variant=(\S+) id=(\d+) license=(GPL|MIT)$`)

// callLine matches the call instruction in the trace; the verifier's message about the call is
// the line after it.
var callLine = regexp.MustCompile(`^5: \(85\) call \S+$`)

func TestClassifyGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/verifier-logs/*/*.log")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 11*14 {
		t.Fatalf("found %d golden logs, want at least the 154 from 11 kernels", len(files))
	}
	for _, file := range files {
		kernelDir := filepath.Base(filepath.Dir(file))
		kind := strings.TrimSuffix(filepath.Base(file), ".log")
		t.Run(kernelDir+"/"+kind, func(t *testing.T) {
			want, ok := goldenExceptions[kernelDir+"/"+kind]
			if !ok {
				want, ok = goldenKinds[kind]
			}
			if !ok {
				t.Fatalf("no expected outcome for %s: add it to goldenKinds", file)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			header, log, _ := strings.Cut(string(data), "\n")
			m := headerRE.FindStringSubmatch(header)
			if m == nil {
				t.Fatalf("bad header line %q", header)
			}
			errno, _ := strconv.Atoi(m[2])

			outcome, detail := Classify(unix.Errno(errno), log)
			if outcome != want {
				t.Fatalf("%s: %s (%s), want %s\n%s", file, outcome, detail, want, log)
			}
			// The decisive line is the verifier's message right after the call, never a line
			// of the explanation 7.3 appends.
			lines := strings.Split(log, "\n")
			for i, line := range lines {
				if callLine.MatchString(line) && i+1 < len(lines) && errno != 0 && outcome != Inconclusive {
					if wantDetail := lines[i+1]; outcome != Unclassified && detail != wantDetail {
						t.Errorf("detail %q, want the line after the call: %q", detail, wantDetail)
					}
				}
			}
		})
	}
}

// TestClassifyWithoutLog covers refusals that leave no log at all, which no kernel version
// words differently: the errno is all there is.
func TestClassifyWithoutLog(t *testing.T) {
	tests := []struct {
		errno  unix.Errno
		detail string
	}{
		{unix.EPERM, "EPERM before verification (empty log)"},
		{unix.EINVAL, "EINVAL before verification (empty log)"},
		{unix.E2BIG, "E2BIG before verification (empty log)"},
		{enotsupp, "ENOTSUPP before verification (empty log)"},
	}
	for _, tt := range tests {
		t.Run(tt.detail, func(t *testing.T) {
			outcome, detail := Classify(tt.errno, "")
			if outcome != Inconclusive || detail != tt.detail {
				t.Fatalf("Classify(%d, \"\") = %s, %q; want inconclusive, %q", tt.errno, outcome, detail, tt.detail)
			}
		})
	}
	if outcome, detail := Classify(0, ""); outcome != Supported || detail != "loaded" {
		t.Fatalf("Classify(0, \"\") = %s, %q; want supported, loaded", outcome, detail)
	}
}
