package probe

import (
	"regexp"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// kfuncRule maps one verifier message about a kfunc call, matched at the start of a log line, to
// an outcome and, where the message shows one, a flag of the kfunc (KF_ACQUIRE and so on).
type kfuncRule struct {
	outcome observation.Outcome
	flag    string // "" when the message shows no flag
	prefix  string // literal start of every line re matches (see rule.prefix)
	re      *regexp.Regexp
}

// kfuncRules are the messages the kfunc classifier knows, from testdata/verifier-logs and the
// kernel's check_kfunc_call, add_kfunc_call and check_kfunc_args (5.10 to 7.3). The first line
// of the log any rule matches decides the outcome; every matching line adds its flag.
//
// The verifier first resolves the call (does the kernel know a function by that id, may this
// program type call it, and with this license, capability, sleepability, device binding) and
// only then checks the arguments and the call's effects. The probe passes 0 in r1..r5, so a
// kfunc taking a pointer complains about it; one that takes none may load, or fail on what it
// did (an unreleased reference, an unclosed RCU section): all of those mean the call itself was
// accepted.
var kfuncRules = []kfuncRule{
	// Refusals of the call itself.
	{observation.UnknownID, "", "BPF_CALL uses reserved fields", re(`^BPF_CALL uses reserved fields$`)}, // 5.10: no kfunc calls at all
	{observation.UnknownID, "", "kernel btf_id ", re(`^kernel btf_id \d+ is not a function$`)},
	{observation.UnknownID, "", "kernel function btf_id ", re(`^kernel function btf_id \d+ does not have a valid func_proto$`)},
	// A FUNC in BTF that the kernel has no address for (inlined or static): not callable.
	{observation.UnknownID, "", "cannot find address for kernel function ", re(`^cannot find address for kernel function \S+$`)},
	{observation.NotForType, "", "calling kernel function ", re(`^calling kernel function \S+ is not allowed$`)},
	// __bpf_trap (6.16) is what the compiler calls for an uninitialised variable; the verifier
	// refuses every program that calls it, after finding it in the type's set.
	{observation.NotForType, "", "unexpected __bpf_trap()", re(`^unexpected __bpf_trap\(\) due to uninitialized variable\?$`)},
	{observation.GPLOnly, "", "cannot call kernel function from non-GPL compatible program", re(`^cannot call kernel function from non-GPL compatible program$`)},
	{observation.NeedsCapability, "destructive", "destructive kfunc calls require CAP_SYS_BOOT", re(`^destructive kfunc calls require CAP_SYS_BOOT capability$`)},
	{observation.SleepableOnly, "sleepable", "program must be sleepable to call sleepable kfunc ", re(`^program must be sleepable to call sleepable kfunc \S+$`)},
	{observation.SleepableOnly, "sleepable", "kernel function ", re(`^kernel function \S+ is sleepable but the program is not$`)}, // 6.1
	// The kernel could call kfuncs, but not from this program: its JIT cannot.
	{observation.Inconclusive, "", "calling kernel functions are not ", re(`^calling kernel functions are not (allowed|supported) in non-JITed programs$`)},
	{observation.Inconclusive, "", "JIT ", re(`^JIT (does not support calling kernel function|is required for calling kernel function|does not support calling kfunc \S+#\d+)$`)},
	// XDP RX metadata kfuncs: checked when the call is first seen, before the program type is.
	{observation.DeviceBound, "device_bound", "metadata kfuncs require device-bound program", re(`^metadata kfuncs require device-bound program$`)},

	// The call was accepted; the arguments (all 0) or the call's effects were not.
	{observation.Supported, "trusted_args", "Possibly NULL pointer passed to trusted arg", re(`^Possibly NULL pointer passed to trusted arg\d+$`)},
	{observation.Supported, "trusted_args", "Possibly NULL pointer passed to trusted R", re(`^Possibly NULL pointer passed to trusted R\d+$`)}, // 7.2 and later
	{observation.Supported, "", "kfunc ", re(`^kfunc \S+ type ID argument must be of a struct$`)},                                              // bpf_rdonly_cast
	{observation.Supported, "", "bpf_obj_new/bpf_percpu_obj_new type ID argument", re(`^bpf_obj_new/bpf_percpu_obj_new type ID argument must be of a struct$`)},
	{observation.Supported, "", "", re(`^\d+ bpf_preempt_enable is missing$`)}, // the disable was accepted; the exit is unbalanced
	{observation.Supported, "trusted_args", "R", re(`^R\d+ must be referenced or trusted$`)},
	{observation.Supported, "trusted_args", "R", re(`^R\d+ must be referenced$`)}, // 6.1
	{observation.Supported, "rcu", "R", re(`^R\d+ must be a rcu pointer$`)},
	{observation.Supported, "release", "R", re(`^R\d+ must be referenced when passed to release function$`)},
	{observation.Supported, "release", "release kernel function ", re(`^release kernel function \S+ expects refcounted PTR_TO_BTF_ID$`)},
	{observation.Supported, "release", "kfunc ", re(`^kfunc \S+#\d+ reference has not been acquired before$`)},
	{observation.Supported, "acquire", "Unreleased reference ", re(`^Unreleased reference id=\d+ alloc_insn=\d+$`)},
	{observation.Supported, "", "R", re(`^R\d+ type=\S+ expected=`)},
	{observation.Supported, "", "R", re(`^R\d+ is not a (scalar|pointer to arena or scalar\.?)$`)},
	{observation.Supported, "", "R", re(`^R\d+ must be a known constant$`)},
	{observation.Supported, "", "arg#", re(`^arg#\d+ (expected pointer to |pointer type |reference type\(|doesn't point to |arg#\d+ memory, len pair )`)},
	{observation.Supported, "", "Unrecognized arg#", re(`^Unrecognized arg#\d+ type `)},
	{observation.Supported, "", "kernel function ", re(`^kernel function \S+ args#\d+ expected pointer to `)},
	{observation.Supported, "", "expected ", re(`^expected (an initialized|uninitialized) (iter_\S+|dynptr) as arg #\d+$`)},
	{observation.Supported, "", "Expected ", re(`^Expected (an initialized|uninitialized) dynptr as arg #\d+$`)},
	{observation.Supported, "", "BPF_EXIT instruction ", re(`^BPF_EXIT instruction (in main prog )?cannot be used inside \S+-ed region$`)},
	{observation.Supported, "", "bpf_rcu_read_unlock is missing", re(`^bpf_rcu_read_unlock is missing$`)},
	{observation.Supported, "", "unmatched ", re(`^unmatched (rcu read unlock|attempt to enable preemption|attempt to restore irq flags) \(kernel function \S+\)$`)},
	{observation.Supported, "", "kernel func ", re(`^kernel func \S+ requires RCU critical section protection$`)},
	{observation.Supported, "", "bpf_obj_new/bpf_percpu_obj_new requires prog BTF", re(`^bpf_obj_new/bpf_percpu_obj_new requires prog BTF$`)},
	// bpf_throw(0): the default exception callback returns the cookie, here outside the
	// range the attach type allows.
	{observation.Supported, "", "At program exit the register R", re(`^At program exit the register R\d+ has `)},
}

func re(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// ClassifyKfunc turns the result of one kfunc probe load (see asm.KfuncProbeProgram) into an
// outcome, the log line (or error) that decided it, and the kfunc's flags the log shows
// ("acquire", "sleepable", "trusted_args", ...), sorted. errno is 0 when the program loaded.
// The whole log is searched, not its tail. A log no rule matches is classified as Classify
// would (refusals before verification are observation.Inconclusive) and is otherwise
// observation.Unclassified, never guessed.
func ClassifyKfunc(errno unix.Errno, log string) (outcome observation.Outcome, detail string, flags []string) {
	if errno == 0 {
		return observation.Supported, "loaded", nil
	}
	for line := range strings.Lines(log) {
		line = strings.TrimRight(line, " \t\r\n")
		for _, r := range kfuncRules {
			if !strings.HasPrefix(line, r.prefix) || !r.re.MatchString(line) {
				continue
			}
			if detail == "" {
				outcome, detail = r.outcome, line
			}
			if r.flag != "" && !slices.Contains(flags, r.flag) {
				flags = append(flags, r.flag)
			}
			break
		}
	}
	slices.Sort(flags)
	if detail != "" {
		return outcome, detail, flags
	}
	outcome, detail = Classify(errno, log)
	if outcome != observation.Inconclusive {
		// Classify's rules are about helpers: a kfunc log they match is still unknown wording.
		outcome, detail = observation.Unclassified, errnoName(errno)+": "+firstMessage(log)
	}
	return outcome, detail, flags
}
