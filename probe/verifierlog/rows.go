package verifierlog

import "github.com/bpfmatrix/bpfmatrix/observation"

// Outcomes, shorter, for the table.
const (
	supported     = observation.Supported
	unknownID     = observation.UnknownID
	notForType    = observation.NotForType
	gplOnly       = observation.GPLOnly
	sleepableOnly = observation.SleepableOnly

	causeHelperUnknown    = observation.CauseHelperUnknown
	causeHelperNotForType = observation.CauseHelperNotForType
	causeKfuncUnknown     = observation.CauseKfuncUnknown
	causeKfuncNotForType  = observation.CauseKfuncNotForType
	causeGPL              = observation.CauseGPLOnly
	causeAttachTarget     = observation.CauseAttachTarget
	causeCORE             = observation.CauseCORERelocation
	causeBTF              = observation.CauseBTF
	causeVerifier         = observation.CauseVerifier
)

// grammar is every message of kernels 5.10 to 7.3 that one of the readers knows, from the
// golden logs in probe/testdata/verifier-logs and, where no golden log shows one yet, from the
// kernel source (Source). Each reader tries its own rows in this order, so a row meant for
// several readers sits where each of them had it.
//
// The verifier checks a call in order: does the function exist (id range, BTF), may this
// program type call it (get_func_proto, the type's kfunc set), with this license, capability,
// sleepability and device binding; only then the arguments (the probe passes 0 in r1..r5, so a
// function that takes a pointer, a map or a dynptr complains about it) and the call's effects
// (an unreleased reference, an unclosed RCU section). Any message of the second kind means the
// call itself was accepted.
var grammar = compile([]Row{
	// Whole programs loaded with cilium/ebpf (bpfmatrix load): what only a user's program makes
	// the verifier say. cilium/ebpf poisons a CO-RE relocation that matched nothing, and a weak
	// kfunc the kernel lacks, with calls to ids no kernel has; those rows come before
	// invalid-func, which would read them as unknown helpers.
	{Name: "core-poison", Pattern: `^invalid func unknown#195896080$`, Source: "cilium/ebpf btf.COREBadRelocationSentinel (0xbad2310) as a helper id", Cause: causeCORE},
	{Name: "kfunc-poison", Pattern: `^invalid func unknown#233750750$`, Source: "cilium/ebpf's poisoned weak kfunc call (0xdedc0de)", Cause: causeKfuncUnknown},
	{Name: "attach-not-function", Pattern: `^attach_btf_id \d+ is not a function$`, Source: "verifier.c, bpf_check_attach_target", Cause: causeAttachTarget},
	{Name: "attach-no-address", Pattern: `^The address of function \S+ cannot be found$`, Source: "verifier.c, bpf_check_attach_target", Cause: causeAttachTarget},
	{Name: "attach-wrong-name", Pattern: `^attach_btf_id \d+ points to wrong type name \S+$`, Source: "verifier.c, bpf_check_attach_target (tp_btf)", Cause: causeAttachTarget},
	{Name: "attach-no-btf-id", Pattern: `^Tracing programs must provide btf_id$`, Source: "verifier.c, bpf_check_attach_target", Cause: causeAttachTarget},
	{Name: "lsm-gpl", Pattern: `^LSM programs must use GPL compatible license$`, Source: "bpf_lsm.c, bpf_lsm_verify_prog", Cause: causeGPL},
	{Name: "global-func-return", Pattern: `^Global function \S+\(\) doesn't return scalar\. Only those are supported\.$`, Source: "btf.c, btf_prepare_func_args", Cause: causeBTF},
	{Name: "stx-reserved", Pattern: `^BPF_STX uses reserved fields$`, Source: "verifier.c, do_check before 5.12: an atomic operation (BPF_ATOMIC other than add) the kernel does not know", Cause: causeVerifier},
	{Name: "no-field-at-offset", Pattern: `^struct \S+ doesn't have field at offset \d+$`, Source: "btf.c, btf_struct_walk: an access to a kernel struct at an offset no member of the kernel's layout has", Cause: causeVerifier},
	{Name: "func-info-count", Pattern: `^number of funcs in func_info doesn't match number of subprogs$`, Source: "verifier.c, check_btf_func: the object's BTF func_info against the kernel's count of subprograms", Cause: causeBTF},
	{Name: "global-func-return-void", Pattern: `^Global function \S+\(\) return value not void or scalar\. Only those are supported\.$`, Source: "btf.c, btf_prepare_func_args, since global functions may return void (seen on 7.3)", Cause: causeBTF},
	// What the verifier says of a program's own instructions (not of a call): a family of
	// messages, read by their first words.
	{Name: "own-instructions", Pattern: `^(back-edge from insn|infinite loop detected|unreachable insn|jump out of range|BPF program is too large|The sequence of \d+ jumps is too complex|combined stack size|misaligned |dereference of modified ctx ptr|invalid bpf_context access|math between |value -?\d+ makes \S+ pointer be out of bounds|loop detected)`,
		Source: "verifier.c, checks of a program's own instructions", Shape: true, Cause: causeVerifier},
	// check_helper_call: id range, get_func_proto (type, attach type and target), GPL, the
	// helper's own allowed() callback, sleepability.
	{Name: "invalid-func", Pattern: `^invalid func \S*#-?\d+$`, Cause: causeHelperUnknown, Since: "5.10", Until: "7.3", Helper: unknownID},
	{Name: "unknown-func", Pattern: `^unknown func (\S+)#(\d+)$`, Cause: causeHelperNotForType, Since: "5.10", Until: "6.1", Helper: notForType},
	{Name: "type-cannot-use-helper", Pattern: `^program of this type cannot use helper (\S+)#(\d+)$`, Cause: causeHelperNotForType, Since: "6.12", Until: "7.3", Helper: notForType},
	{Name: "gpl-helper", Pattern: `^cannot call GPL-restricted function from non-GPL compatible program$`, Cause: causeGPL, Since: "5.10", Until: "7.3", Helper: gplOnly},
	{Name: "not-allowed-in-probe", Pattern: `^helper call is not allowed in probe$`, Cause: causeHelperNotForType, Since: "5.10", Until: "7.3", Helper: observation.NotForTarget},
	{Name: "helper-might-sleep", Pattern: `^helper call might sleep in a non-sleepable prog$`, Cause: causeHelperNotForType, Since: "6.1", Until: "7.0", Helper: sleepableOnly},
	{Name: "sleepable-helper", Pattern: `^sleepable helper \S+#\d+ in non-sleepable prog$`, Cause: causeHelperNotForType, Since: "7.1", Until: "7.3", Helper: sleepableOnly},

	// check_kfunc_call and add_kfunc_call: refusals of the call itself.
	{Name: "call-reserved-fields", Pattern: `^BPF_CALL uses reserved fields$`, Cause: causeKfuncUnknown, Since: "5.10", Until: "5.10", Kfunc: unknownID}, // no kfunc calls at all
	{Name: "btf-id-not-function", Pattern: `^kernel btf_id \d+ is not a function$`, Cause: causeKfuncUnknown, Since: "6.1", Until: "7.3", Kfunc: unknownID},
	{Name: "no-func-proto", Pattern: `^kernel function btf_id \d+ does not have a valid func_proto$`, Cause: causeKfuncUnknown, Source: "verifier.c, resolving a kfunc call", Kfunc: unknownID},
	// A FUNC in BTF that the kernel has no address for (inlined or static): not callable.
	{Name: "no-address", Pattern: `^cannot find address for kernel function \S+$`, Cause: causeKfuncUnknown, Since: "7.0", Until: "7.3", Kfunc: unknownID},
	{Name: "kfunc-not-allowed", Pattern: `^calling kernel function (\S+) is not allowed$`, Cause: causeKfuncNotForType, Since: "6.1", Until: "7.3", Kfunc: notForType},
	// __bpf_trap (6.16) is what the compiler calls for an uninitialised variable; the verifier
	// refuses every program that calls it, after finding it in the type's set.
	{Name: "bpf-trap", Pattern: `^unexpected __bpf_trap\(\) due to uninitialized variable\?$`, Cause: causeVerifier, Since: "6.16", Until: "7.3", Kfunc: notForType},
	{Name: "gpl-kfunc", Pattern: `^cannot call kernel function from non-GPL compatible program$`, Cause: causeGPL, Since: "6.12", Until: "7.3", Kfunc: gplOnly},
	{Name: "destructive", Pattern: `^destructive kfunc calls require CAP_SYS_BOOT capability$`, Cause: causeKfuncNotForType, Source: "verifier.c, check_kfunc_call", Kfunc: observation.NeedsCapability, Flag: "destructive"},
	{Name: "sleepable-kfunc", Pattern: `^program must be sleepable to call sleepable kfunc \S+$`, Cause: causeKfuncNotForType, Since: "6.12", Until: "7.3", Kfunc: sleepableOnly, Flag: "sleepable"},
	{Name: "kfunc-is-sleepable", Pattern: `^kernel function \S+ is sleepable but the program is not$`, Cause: causeKfuncNotForType, Since: "6.1", Until: "6.1", Kfunc: sleepableOnly, Flag: "sleepable"},
	// The kernel could call kfuncs, but not from this program: its JIT cannot.
	{Name: "kfunc-not-jited", Pattern: `^calling kernel functions are not (allowed|supported) in non-JITed programs$`, Cause: causeKfuncNotForType, Source: "verifier.c, resolving a kfunc call", Kfunc: observation.Inconclusive},
	{Name: "jit-kfunc", Pattern: `^JIT (does not support calling kernel function|is required for calling kernel function|does not support calling kfunc \S+#\d+)$`, Cause: causeKfuncNotForType, Source: "verifier.c, resolving a kfunc call", Kfunc: observation.Inconclusive},
	// XDP RX metadata kfuncs: checked when the call is first seen, before the program type is.
	{Name: "device-bound", Pattern: `^metadata kfuncs require device-bound program$`, Cause: causeKfuncNotForType, Since: "6.12", Until: "7.3", Kfunc: observation.DeviceBound, Flag: "device_bound"},

	// The kfunc call was accepted; its arguments (all 0) or its effects were not.
	{Name: "trusted-null-arg", Pattern: `^Possibly NULL pointer passed to trusted arg\d+$`, Cause: causeVerifier, Since: "6.12", Until: "7.1", Kfunc: supported, Flag: "trusted_args"},
	{Name: "trusted-null-reg", Pattern: `^Possibly NULL pointer passed to trusted R\d+$`, Cause: causeVerifier, Since: "7.2", Until: "7.3", Kfunc: supported, Flag: "trusted_args"},
	{Name: "rdonly-cast-type", Pattern: `^kfunc \S+ type ID argument must be of a struct$`, Cause: causeVerifier, Since: "6.12", Until: "6.12", Kfunc: supported}, // bpf_rdonly_cast
	{Name: "obj-new-type", Pattern: `^bpf_obj_new/bpf_percpu_obj_new type ID argument must be of a struct$`, Cause: causeVerifier, Source: "verifier.c, check_kfunc_call", Kfunc: supported},
	{Name: "preempt-enable-missing", Pattern: `^\d+ bpf_preempt_enable is missing$`, Cause: causeVerifier, Since: "6.12", Until: "6.12", Kfunc: supported}, // the disable was accepted; the exit is unbalanced
	{Name: "referenced-or-trusted", Pattern: `^R\d+ must be referenced or trusted$`, Cause: causeVerifier, Source: "verifier.c, check_kfunc_args", Kfunc: supported, Flag: "trusted_args"},
	{Name: "must-be-referenced", Pattern: `^R\d+ must be referenced$`, Cause: causeVerifier, Source: "btf.c, 6.1's kfunc argument checks", Kfunc: supported, Flag: "trusted_args"},
	{Name: "rcu-pointer", Pattern: `^R\d+ must be a rcu pointer$`, Cause: causeVerifier, Source: "verifier.c, check_kfunc_args", Kfunc: supported, Flag: "rcu"},
	{Name: "release-unreferenced", Pattern: `^R\d+ must be referenced when passed to release function$`, Cause: causeVerifier, Since: "6.1", Until: "6.18", Kfunc: supported, Flag: "release"},
	{Name: "release-refcounted", Pattern: `^release kernel function \S+ expects refcounted PTR_TO_BTF_ID$`, Cause: causeVerifier, Source: "verifier.c, check_kfunc_args", Kfunc: supported, Flag: "release"},
	{Name: "kfunc-unacquired", Pattern: `^kfunc \S+#\d+ reference has not been acquired before$`, Cause: causeVerifier, Source: "verifier.c, check_kfunc_call", Kfunc: supported, Flag: "release"},
	{Name: "unreleased", Pattern: `^Unreleased reference id=\d+ alloc_insn=(\d+)$`, Cause: causeVerifier, Since: "5.10", Until: "7.3", Kfunc: supported, Flag: "acquire"},

	// Argument complaints every reader knows, then the kfunc classifier's own.
	{Name: "unset-arg", Pattern: `^R(\d+) !read_ok`, Cause: causeVerifier, Since: "5.10", Until: "7.3", Arg: &Reading{Kind: UnsetArg, Reg: 1}},
	{Name: "wrong-type", Pattern: `^R(\d+) type=(\S+) expected=(.*)$`, Cause: causeVerifier, Since: "5.10", Until: "7.3", Helper: supported, Kfunc: supported,
		Arg: &Reading{Kind: WrongType, Reg: 1, Got: 2, Expected: 3, List: true}},
	{Name: "not-a-scalar", Pattern: `^R\d+ is not a scalar$`, Cause: causeVerifier, Source: "7.2, bpf_set_retval (measured, DESIGN.md section 4)", Helper: supported, Kfunc: supported},
	{Name: "not-arena-or-scalar", Pattern: `^R\d+ is not a pointer to arena or scalar\.?$`, Cause: causeVerifier, Source: "verifier.c, check_kfunc_args", Kfunc: supported},
	{Name: "known-constant", Pattern: `^R\d+ must be a known constant$`, Cause: causeVerifier, Source: "verifier.c, check_kfunc_args", Kfunc: supported},
	{Name: "kfunc-arg", Pattern: `^arg#\d+ (expected pointer to |pointer type |reference type\(|doesn't point to |arg#\d+ memory, len pair )`, Cause: causeVerifier, Since: "6.1", Until: "6.19", Kfunc: supported},
	{Name: "unrecognized-arg", Pattern: `^Unrecognized arg#\d+ type `, Cause: causeVerifier, Source: "verifier.c, check_kfunc_args", Kfunc: supported},
	{Name: "kfunc-args-pointer", Pattern: `^kernel function \S+ args#\d+ expected pointer to `, Cause: causeVerifier, Source: "btf.c, 6.1's kfunc argument checks", Kfunc: supported},
	{Name: "expected-iter", Pattern: `^expected (an initialized|uninitialized) (iter_\S+|dynptr) as arg #\d+$`, Cause: causeVerifier, Source: "verifier.c, iterator arguments", Kfunc: supported},
	{Name: "expected-dynptr", Pattern: `^Expected (an initialized|uninitialized) dynptr as arg #\d+$`, Cause: causeVerifier, Since: "6.1", Until: "6.18", Kfunc: supported},
	{Name: "exit-in-region", Pattern: `^BPF_EXIT instruction (in main prog )?cannot be used inside \S+-ed region$`, Cause: causeVerifier, Since: "6.16", Until: "7.3", Kfunc: supported},
	{Name: "rcu-unlock-missing", Pattern: `^bpf_rcu_read_unlock is missing$`, Cause: causeVerifier, Since: "6.12", Until: "6.12", Kfunc: supported},
	{Name: "unmatched", Pattern: `^unmatched (rcu read unlock|attempt to enable preemption|attempt to restore irq flags) \(kernel function \S+\)$`, Cause: causeVerifier, Since: "6.12", Until: "7.3", Kfunc: supported},
	{Name: "rcu-protection", Pattern: `^kernel func \S+ requires RCU critical section protection$`, Cause: causeVerifier, Source: "verifier.c, check_kfunc_call", Kfunc: supported},
	{Name: "obj-new-prog-btf", Pattern: `^bpf_obj_new/bpf_percpu_obj_new requires prog BTF$`, Cause: causeVerifier, Since: "6.12", Until: "7.3", Kfunc: supported},
	// bpf_throw(0): the default exception callback returns the cookie, here outside the range
	// the attach type allows.
	{Name: "exit-register", Pattern: `^At program exit the register R\d+ has `, Cause: causeVerifier, Since: "6.12", Until: "7.3", Kfunc: supported},

	// The argument pass's own: complaints about a helper argument the probe gave a value.
	{Name: "bad-size", Pattern: `^R(\d+) (invalid zero-sized read|min value is negative|unbounded memory access|max value is outside|min value is outside)`, Cause: causeVerifier,
		Since: "6.18", Until: "7.3", Arg: &Reading{Kind: BadSize, Reg: 1}},
	// 5.10's and 6.1's refusal of a size of 0, which names no register.
	{Name: "zero-size", Pattern: `^invalid zero-sized read$`, Cause: causeVerifier, Since: "5.10", Until: "6.1", Arg: &Reading{Kind: BadSize}},
	// "helper arg2" up to 7.1, "helper R2" from 7.2; both count registers.
	{Name: "helper-null", Pattern: `^Possibly NULL pointer passed to helper (?:arg|R)(\d+)`, Cause: causeVerifier, Since: "6.12", Until: "7.3", Arg: &Reading{Kind: PossiblyNull, Reg: 1}},
	{Name: "btf-type", Pattern: `^R(\d+) is of type (\S+) but (\S+) is expected`, Cause: causeVerifier, Since: "6.1", Until: "7.3", Arg: &Reading{Kind: WrongBTFType, Reg: 1, Got: 2, Expected: 3}},
	{Name: "map-type", Pattern: `^cannot pass map_type (\d+) into func (\S+)`, Cause: causeVerifier, Since: "5.10", Until: "7.3", Arg: &Reading{Kind: WrongMapType, MapType: 1}},
	{Name: "btf-field", Pattern: `^map '[^']*' has to have BTF in order to use (\S+)`, Cause: causeBTF, Since: "6.1", Until: "7.3", Arg: &Reading{Kind: NeedsBTFField, Got: 1}},
	// arg#0 (kfunc-style checks of helper arguments) and "arg #0" count from 0.
	{Name: "arg-index", Pattern: `(?:^arg#| as arg #)(\d+)\b`, Cause: causeVerifier, Since: "6.1", Until: "6.19", Shape: true, Arg: &Reading{Kind: OtherArg, Index: 1}},
	// The register named at the end: "Expected an initialized dynptr as R1" (7.2 on), "release
	// helper bpf_sk_release expects referenced PTR_TO_BTF_ID passed to R1" (7.2 on).
	{Name: "reg-at-end", Pattern: `(?: as| to) R(\d+)$`, Cause: causeVerifier, Since: "7.3", Until: "7.3", Shape: true, Arg: &Reading{Kind: OtherArg, Reg: 1}},
	// 5.10's refusal of a release helper's argument, which names no register: "func
	// bpf_sk_release#86 reference has not been acquired before".
	{Name: "reference-unacquired", Pattern: `reference has not been acquired before$`, Cause: causeVerifier, Since: "5.10", Until: "5.10", Arg: &Reading{Kind: OtherArg}},
	// bpf_dynptr_from_mem takes its data (R1) from a map value only.
	{Name: "dynptr-data", Pattern: `^Unsupported reg type (\S+) for bpf_dynptr_from_mem data`, Cause: causeVerifier, Since: "6.1", Until: "7.3",
		Arg: &Reading{Kind: OtherArg, FixedReg: 1, Got: 1, Wants: "map_value"}},
	// "arg 1 is an unacquired reference" names the register.
	{Name: "arg-n", Pattern: `^arg (\d+) `, Cause: causeVerifier, Since: "6.1", Until: "6.18", Shape: true, Arg: &Reading{Kind: OtherArg, Reg: 1}},
	{Name: "reg-first", Pattern: `^R(\d+) `, Cause: causeVerifier, Since: "5.10", Until: "7.3", Shape: true, Arg: &Reading{Kind: OtherArg, Reg: 1}},
	// Complaints about the memory an argument points to, which do not always name the
	// register: "invalid access to map value, value_size=8 off=0 size=64", "invalid indirect
	// read from stack R2 off -128+0 size 256".
	{Name: "memory-access", Pattern: `^(invalid (indirect )?(access|read|write) |invalid stack type |access beyond )`, Cause: causeVerifier,
		Source: "verifier.c, memory access checks of helper arguments", Shape: true, Arg: &Reading{Kind: OtherArg, RegAnywhere: true}},
})
