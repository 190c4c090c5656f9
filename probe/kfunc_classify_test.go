package probe

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

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

// kfuncGoldenExceptions are files whose kernel answers differently from their kind's name,
// keyed "<kernel dir>/<kind>".
var kfuncGoldenExceptions = map[string]kfuncGolden{}

var kfuncHeaderRE = regexp.MustCompile(`^# kernel=(\S+) errno=(\d+) \([^)]*\) variant=(\S+) kfunc=(\S+) btf_id=(\d+) license=(GPL|MIT)$`)

func TestClassifyKfuncGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/verifier-logs/*/kfunc-*.log")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < len(kfuncGoldenKinds)-1 {
		t.Fatalf("found %d golden kfunc logs, want the host's %d", len(files), len(kfuncGoldenKinds))
	}
	for _, file := range files {
		kernelDir := filepath.Base(filepath.Dir(file))
		kind := strings.TrimPrefix(strings.TrimSuffix(filepath.Base(file), ".log"), "kfunc-")
		t.Run(kernelDir+"/"+kind, func(t *testing.T) {
			want, ok := kfuncGoldenExceptions[kernelDir+"/"+kind]
			if !ok {
				want, ok = kfuncGoldenKinds[kind]
			}
			if !ok {
				t.Fatalf("no expected outcome for %s: add it to kfuncGoldenKinds", file)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			header, log, _ := strings.Cut(string(data), "\n")
			m := kfuncHeaderRE.FindStringSubmatch(header)
			if m == nil {
				t.Fatalf("bad header line %q", header)
			}
			errno, _ := strconv.Atoi(m[2])
			outcome, detail, flags := ClassifyKfunc(unix.Errno(errno), log)
			if outcome != want.outcome || !slices.Equal(flags, want.flags) {
				t.Fatalf("%s (%s) flags %v, want %s flags %v\n%s", outcome, detail, flags, want.outcome, want.flags, log)
			}
			if outcome != observation.Inconclusive && errno != 0 && !strings.Contains(log, detail) {
				t.Fatalf("detail %q is not a line of the log", detail)
			}
		})
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
