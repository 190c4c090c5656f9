package probe

import (
	"github.com/bpfmatrix/bpfmatrix/observation"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// goldenKinds is the expected outcome of each kind of golden log (the file name without .log).
var goldenKinds = map[string]observation.Outcome{
	"unknown-id":                 observation.UnknownID,
	"not-for-type":               observation.NotForType,
	"gpl-only":                   observation.GPLOnly,
	"supported-arg-error":        observation.Supported,
	"supported-arg-map":          observation.Supported,
	"supported-arg-func":         observation.Supported,
	"supported-loaded":           observation.Supported,
	"supported-iter-sleepable":   observation.Supported,
	"supported-uprobe-sleepable": observation.Supported,
	"not-for-target":             observation.NotForTarget,
	"sleepable-only":             observation.SleepableOnly,
	"sleepable-only-iter":        observation.SleepableOnly,
	"lsm-non-gpl":                observation.Inconclusive, // "LSM programs must have a GPL compatible license"
	"lsm-supported":              observation.Supported,
	"lsm-eperm":                  observation.Inconclusive,
	"fentry":                     observation.Supported,
	"fentry-eperm":               observation.Inconclusive,
	"syscall":                    observation.Supported,
	"syscall-not-sleepable":      observation.Inconclusive,
	"netfilter":                  observation.Supported,
	"sk-lookup":                  observation.Supported,
	"cgroup-sockopt":             observation.Supported,
	"struct-ops":                 observation.Supported,
	"struct-ops-non-gpl":         observation.Inconclusive,
	"lirc-mode2":                 observation.Inconclusive, // compiled out of Debian's cloud kernels
	// A return value outside the attach type's range: no rule, so it must not be guessed.
	"recvmsg-returns-0": observation.Unclassified,
}

// goldenExceptions are the files whose kernel answers differently from the kind's name.
var goldenExceptions = map[string]observation.Outcome{
	// 5.10 offered copy_from_user to sleepable programs only: others are told "unknown func".
	"5.10/sleepable-only":      observation.NotForType,
	"5.10/sleepable-only-iter": observation.NotForType,
	// syscall programs arrived in 5.14, netfilter programs in 6.4.
	"5.10/syscall":   observation.Inconclusive,
	"5.10/netfilter": observation.Inconclusive,
	"6.1/netfilter":  observation.Inconclusive,
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
		if strings.HasPrefix(filepath.Base(file), "kfunc-") {
			continue // kfunc probes' logs: ClassifyKfunc's goldens (kfunc_classify_test.go)
		}
		kernelDir := filepath.Base(filepath.Dir(file))
		kind := strings.TrimSuffix(filepath.Base(file), ".log")
		if strings.HasPrefix(kind, "arg-") {
			continue // argument probes' logs: the complaint parser's goldens (argcomplaint_test.go)
		}
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
				if callLine.MatchString(line) && i+1 < len(lines) && errno != 0 && outcome != observation.Inconclusive {
					if wantDetail := lines[i+1]; outcome != observation.Unclassified && detail != wantDetail {
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
			if outcome != observation.Inconclusive || detail != tt.detail {
				t.Fatalf("Classify(%d, \"\") = %s, %q; want inconclusive, %q", tt.errno, outcome, detail, tt.detail)
			}
		})
	}
	if outcome, detail := Classify(0, ""); outcome != observation.Supported || detail != "loaded" {
		t.Fatalf("Classify(0, \"\") = %s, %q; want supported, loaded", outcome, detail)
	}
}
