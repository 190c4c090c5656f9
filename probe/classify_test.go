package probe

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/observation"
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

// callLine matches the call instruction in the trace; the verifier's message about the call is
// the line after it.
var callLine = regexp.MustCompile(`^5: \(85\) call \S+$`)

func TestClassifyGolden(t *testing.T) {
	logs := goldenLogs(t, "")
	if len(logs) < 11*14 {
		t.Fatalf("found %d golden logs, want at least the 154 from 11 kernels", len(logs))
	}
	for _, g := range logs {
		if strings.HasPrefix(g.kind, "kfunc-") || strings.HasPrefix(g.kind, "arg-") {
			continue // TestClassifyKfuncGolden's and TestParseComplaintGolden's
		}
		t.Run(g.kernel+"/"+g.kind, func(t *testing.T) {
			want, ok := goldenExceptions[g.kernel+"/"+g.kind]
			if !ok {
				want, ok = goldenKinds[g.kind]
			}
			if !ok {
				t.Fatalf("no expected outcome for %s: add it to goldenKinds", g.file)
			}
			outcome, detail, row := classify(g.errno, g.log)
			if outcome != want {
				t.Fatalf("%s: %s (%s), want %s\n%s", g.file, outcome, detail, want, g.log)
			}
			decidedBy(t, g, row, detail)
			// The decisive line is the verifier's message right after the call, never a line
			// of the explanation 7.3 appends.
			lines := strings.Split(g.log, "\n")
			for i, line := range lines {
				if callLine.MatchString(line) && i+1 < len(lines) && g.errno != 0 && outcome != observation.Inconclusive {
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

// TestClassifyUnknownWording checks that a helper probe's log in words no row knows is
// reported as unclassified with the errno and the message, never guessed, even where a kfunc
// row knows the words.
func TestClassifyUnknownWording(t *testing.T) {
	const call = "5: (85) call bpf_x#1234\n"
	const stats = "processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
	for _, message := range []string{
		"helper bpf_x#1234 is not offered here",
		"calling kernel function bpf_x is not allowed",
		"Possibly NULL pointer passed to trusted arg0",
	} {
		outcome, detail := Classify(unix.EINVAL, call+message+"\n"+stats)
		if outcome != observation.Unclassified || detail != "EINVAL: "+message {
			t.Errorf("%q: %s (%s), want unclassified (EINVAL: %s)", message, outcome, detail, message)
		}
	}
}

// kfuncGolden is what ClassifyKfunc must make of one kind of golden kfunc log.
type kfuncGolden struct {
	outcome observation.Outcome
	flags   []string
}

// kfuncGoldenKinds are the expected answers for testdata/verifier-logs/*/kfunc-<kind>.log (see
// kfuncCaptureCases for what each loads).
var kfuncGoldenKinds = map[string]kfuncGolden{
	"not-for-type":                {observation.NotForType, nil},
	"not-for-type-filter":         {observation.NotForType, nil}, // bpf_sock_destroy outside iterators
	"not-a-kfunc":                 {observation.NotForType, nil}, // vfs_read: a FUNC in no kfunc set
	"bpf-trap":                    {observation.NotForType, nil},
	"unknown-id":                  {observation.UnknownID, nil},
	"non-gpl":                     {observation.GPLOnly, nil},
	"sleepable-only":              {observation.SleepableOnly, []string{"sleepable"}},
	"sleepable-only-xdp":          {observation.SleepableOnly, []string{"sleepable"}},
	"device-bound":                {observation.DeviceBound, []string{"device_bound"}},
	"device-bound-socket-filter":  {observation.DeviceBound, []string{"device_bound"}}, // checked before the type
	"supported-loaded":            {observation.Supported, nil},
	"supported-trusted-null":      {observation.Supported, []string{"trusted_args"}},
	"supported-trusted-null-arg1": {observation.Supported, []string{"trusted_args"}},
	"supported-sleepable":         {observation.Supported, []string{"trusted_args"}},
	"supported-syscall":           {observation.Supported, []string{"trusted_args"}},
	"supported-iter-filter":       {observation.Supported, []string{"trusted_args"}},
	"supported-struct-ops":        {observation.Supported, []string{"trusted_args"}},
	"supported-unreleased":        {observation.Supported, []string{"acquire"}},
	"supported-rcu-region":        {observation.Supported, nil},
	"supported-preempt-region":    {observation.Supported, nil},
	"supported-rcu-unmatched":     {observation.Supported, nil},
	"supported-preempt-unmatched": {observation.Supported, nil},
	"supported-obj-new":           {observation.Supported, nil},
	"supported-throw-retval":      {observation.Supported, nil},
	"lsm-eperm":                   {observation.Inconclusive, nil},
	// From the guests (7.2 and later name the register; 6.12 and 6.1 word these their own way).
	"trusted-null-r":     {observation.Supported, []string{"trusted_args"}},
	"preempt-unbalanced": {observation.Supported, nil},
	"rdonly-cast":        {observation.Supported, nil},
}

// kfuncGoldenException is a kind of golden kfunc log that some kernels answer differently
// from the kernel whose answer gave the kind its name (the host's, see kfuncCaptureCases).
type kfuncGoldenException struct {
	kind    string
	kernels []string // directories under testdata/verifier-logs
	want    kfuncGolden
}

// kfuncGoldenExceptions are the kernels that truly answer a kind differently, each with what
// its logs show.
var kfuncGoldenExceptions = []kfuncGoldenException{
	// 5.10 has no kfunc calls: it refuses a call with src_reg 2 before it looks for the
	// function.
	{"not-a-kfunc", []string{"5.10"}, kfuncGolden{observation.UnknownID, nil}},
	{"supported-struct-ops", []string{"5.10"}, kfuncGolden{observation.UnknownID, nil}},
	// Up to 6.17 the key kfuncs are only in the tracing and LSM sets, so an XDP program is
	// refused by type before sleepability is checked; from 6.18 (which moved them to the
	// common set in kernel/bpf/helpers.c) XDP passes the type check and fails the next one.
	{"sleepable-only-xdp", []string{"6.1", "6.12", "6.16", "6.17"}, kfuncGolden{observation.NotForType, nil}},
	// Before 7.0 only kfuncs flagged KF_TRUSTED_ARGS refuse a NULL pointer; 7.0 made that the
	// default for every kfunc (the host's 6.18.44 build already answers as 7.0 does).
	// bpf_copy_from_user_str is not flagged: a NULL destination of size 0 loads ...
	{"supported-sleepable", []string{"6.12", "6.16", "6.17", "6.18", "6.19"}, kfuncGolden{observation.Supported, nil}},
	{"supported-syscall", []string{"6.12", "6.16", "6.17", "6.18", "6.19"}, kfuncGolden{observation.Supported, nil}},
	// ... and tcp_reno_ssthresh is not either: the verifier refuses the scalar 0 where its
	// struct sock pointer goes by type, and shows no flag.
	{"supported-struct-ops", []string{"6.1", "6.12", "6.16", "6.17", "6.18", "6.19"}, kfuncGolden{observation.Supported, nil}},
	// 7.0 replaced bpf_stream_vprintk_impl by bpf_stream_vprintk, whose bpf_prog_aux argument
	// the verifier fills in; the BTF keeps a FUNC of the old name, but nothing is at it.
	{"supported-trusted-null-arg1", []string{"7.0", "7.1", "7.2", "7.3"}, kfuncGolden{observation.UnknownID, nil}},
}

// kfuncGoldenWant returns the expected answer for a golden kfunc log, and the exception it
// comes from (-1 for none).
func kfuncGoldenWant(kernelDir, kind string) (kfuncGolden, int, bool) {
	for i, e := range kfuncGoldenExceptions {
		if e.kind == kind && slices.Contains(e.kernels, kernelDir) {
			return e.want, i, true
		}
	}
	want, ok := kfuncGoldenKinds[kind]
	return want, -1, ok
}

func TestClassifyKfuncGolden(t *testing.T) {
	logs := goldenLogs(t, "kfunc-")
	if len(logs) < len(kfuncGoldenKinds)-1 {
		t.Fatalf("found %d golden kfunc logs, want the host's %d", len(logs), len(kfuncGoldenKinds))
	}
	used := map[string]bool{}
	for _, g := range logs {
		kind := strings.TrimPrefix(g.kind, "kfunc-")
		want, exception, ok := kfuncGoldenWant(g.kernel, kind)
		if exception >= 0 {
			used[g.kernel+"/"+kind] = true
		}
		t.Run(g.kernel+"/"+kind, func(t *testing.T) {
			if !ok {
				t.Fatalf("no expected outcome for %s: add it to kfuncGoldenKinds", g.file)
			}
			outcome, detail, flags, row := classifyKfunc(g.errno, g.log)
			if outcome != want.outcome || !slices.Equal(flags, want.flags) {
				t.Fatalf("%s (%s) flags %v, want %s flags %v\n%s", outcome, detail, flags, want.outcome, want.flags, g.log)
			}
			if outcome != observation.Inconclusive && g.errno != 0 && !strings.Contains(g.log, detail) {
				t.Fatalf("detail %q is not a line of the log", detail)
			}
			decidedBy(t, g, row, detail)
		})
	}
	// An exception no file needs any more hides nothing, but says something untrue.
	for _, e := range kfuncGoldenExceptions {
		for _, k := range e.kernels {
			if !used[k+"/"+e.kind] {
				t.Errorf("exception %s/%s: no such golden log", k, e.kind)
			}
		}
	}
}

// TestClassifyKfuncWording covers messages of kernels (and paths) no golden log shows yet, each
// the way the kernel source prints it, after the probe's call: 5.10 has no kfunc calls, 6.1
// checks arguments in btf.c, a capability the probe lacks, a JIT that cannot call kfuncs.
func TestClassifyKfuncWording(t *testing.T) {
	const call = "5: (85) call bpf_x#1234\n"
	tests := []struct {
		errno   unix.Errno
		message string
		want    observation.Outcome
		flags   []string
	}{
		{unix.EINVAL, "BPF_CALL uses reserved fields", observation.UnknownID, nil},
		{unix.EINVAL, "cannot find address for kernel function bpf_x", observation.UnknownID, nil},
		{unix.EACCES, "destructive kfunc calls require CAP_SYS_BOOT capability", observation.NeedsCapability, []string{"destructive"}},
		{unix.EINVAL, "calling kernel functions are not allowed in non-JITed programs", observation.Inconclusive, nil},
		{enotsupp, "JIT does not support calling kfunc bpf_throw#1234", observation.Inconclusive, nil},
		{unix.EINVAL, "R1 must be referenced", observation.Supported, []string{"trusted_args"}},
		{unix.EINVAL, "R1 must be referenced or trusted", observation.Supported, []string{"trusted_args"}},
		{unix.EINVAL, "R1 must be a rcu pointer", observation.Supported, []string{"rcu"}},
		{unix.EINVAL, "release kernel function bpf_x expects refcounted PTR_TO_BTF_ID", observation.Supported, []string{"release"}},
		{unix.EINVAL, "arg#0 pointer type STRUCT task_struct must point to scalar, or struct with scalar", observation.Supported, nil},
		{unix.EINVAL, "arg#0 expected pointer to ctx, but got scalar", observation.Supported, nil},
		{unix.EINVAL, "arg#1 arg#2 memory, len pair leads to invalid memory access", observation.Supported, nil},
		{unix.EINVAL, "kernel function bpf_x args#0 expected pointer to STRUCT sock but R1 has a pointer to STRUCT task_struct", observation.Supported, nil},
		{unix.EINVAL, "expected uninitialized iter_task as arg #1", observation.Supported, nil},
		{unix.EACCES, "R1 type=scalar expected=fp", observation.Supported, nil},
		{unix.EINVAL, "kernel func bpf_x requires RCU critical section protection", observation.Supported, nil},
		// Wording no rule knows is reported, never guessed: not even a helper rule decides it.
		{unix.EINVAL, "unknown func bpf_x#1234", observation.Unclassified, nil},
		{unix.EACCES, "calling kernel function bpf_x is not allowed in this program", observation.Unclassified, nil},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			log := call + tt.message + "\nprocessed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
			outcome, detail, flags := ClassifyKfunc(tt.errno, log)
			if outcome != tt.want || !slices.Equal(flags, tt.flags) {
				t.Fatalf("%s (%s) flags %v, want %s flags %v", outcome, detail, flags, tt.want, tt.flags)
			}
		})
	}
	// Refusals before verification stay inconclusive, as for helpers.
	if o, d, _ := ClassifyKfunc(unix.EPERM, ""); o != observation.Inconclusive || d != "EPERM before verification (empty log)" {
		t.Errorf("EPERM with no log: %s (%s)", o, d)
	}
}
