package verdict

import (
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// Expected lists as the argument pass records them.
var (
	memWords = []string{"fp", "pkt", "pkt_meta", "map_key", "map_value", "mem", "ringbuf_mem", "buf", "trusted_ptr_"}
	btfWords = []string{"ptr_", "trusted_ptr_", "rcu_ptr_"}
)

func recorded(given string, expected ...string) observation.ArgKind {
	return observation.ArgKind{Expected: expected, Given: given}
}

func withArgs(k Kernel, args ...observation.HelperArgs) Kernel {
	k.Facts.HelperArgs = append(k.Facts.HelperArgs, args...)
	return k
}

// TestArgKinds judges declared argument types against the argument pass's records: the kinds
// that confirm, the ones that contradict (a declared number where the verifier wants a pointer),
// and the ones left open with their reason.
func TestArgKinds(t *testing.T) {
	complete := func(variant string, args ...observation.ArgKind) observation.HelperArgs {
		return observation.HelperArgs{HelperID: 300, Variant: variant, Args: args, Complete: true}
	}
	tests := []struct {
		name     string
		args     string // the entry's signature args
		record   observation.HelperArgs
		verdict  Word
		evidence []string // each must be in the evidence
		notes    []string // each must be in one note
	}{
		{name: "map and key", args: "[{name: map, type: struct bpf_map *}, {name: key, type: const void *}]",
			record:  complete("socket_filter/socket_filter", recorded("map", "map_ptr"), recorded("stack", memWords...)),
			verdict: Confirmed},
		{name: "key declared a number", args: "[{name: map, type: struct bpf_map *}, {name: key, type: u64}]",
			record:   complete("socket_filter/socket_filter", recorded("map", "map_ptr"), recorded("stack", memWords...)),
			verdict:  Contradicted,
			evidence: []string{"argument 2 (key) is declared u64 (scalar), the verifier on 7.3 expects pointer"}},
		// A number the verifier checks nothing of: ARG_ANYTHING.
		{name: "index any", args: "[{name: ctx, type: void *}, {name: map, type: struct bpf_map *}, {name: index, type: u32}]",
			record:  complete("socket_filter/socket_filter", recorded("ctx", "ctx"), recorded("map:prog_array", "map_ptr"), recorded("scalar", "any")),
			verdict: Confirmed},
		// A pointer the verifier checks nothing of: the helper checks the address itself.
		{name: "unsafe pointer", args: "[{name: dst, type: void *}, {name: size, type: u32}, {name: unsafe_ptr, type: const void *}]",
			record:   complete("kprobe/kprobe", recorded("stack", memWords...), recorded("scalar", "scalar"), recorded("scalar", "any")),
			verdict:  Consistent,
			evidence: []string{"2 of 3 arguments confirmed on 7.3", "argument 3 (unsafe_ptr) is declared const void *; the verifier takes any value there"}},
		{name: "map in an untyped pointer", args: "[{name: ringbuf, type: void *}, {name: flags, type: u64}]",
			record:  complete("socket_filter/socket_filter", recorded("map:ringbuf", "map_ptr"), recorded("scalar", "any")),
			verdict: Confirmed,
			notes:   []string{"argument 1 (ringbuf) is declared void *; the verifier wants a map"}},
		{name: "map in a typed pointer", args: "[{name: skb, type: struct sk_buff *}]",
			record:   complete("socket_filter/socket_filter", recorded("map", "map_ptr")),
			verdict:  Consistent,
			evidence: []string{"argument 1 (skb) is declared struct sk_buff *; the verifier wants a map"}},
		// A BTF pointer read from a tracepoint's arguments.
		{name: "btf object", args: "[{name: ctx, type: void *}, {name: map, type: struct bpf_map *}]",
			record: complete("tracing/tp_btf:btf_trace_kfree_skb",
				observation.ArgKind{Expected: btfWords, Given: "ctx_arg", BTFType: "sk_buff"}, recorded("map:perf_event_array", "map_ptr")),
			verdict: Confirmed},
		{name: "btf object of the declared struct", args: "[{name: path, type: const struct path *}]",
			record:  complete("tracing/fentry:vfs_truncate", observation.ArgKind{Expected: btfWords, Given: "ctx_arg", BTFType: "path"}),
			verdict: Confirmed},
		{name: "btf object of another struct", args: "[{name: file, type: struct file *}]",
			record:   complete("tracing/fentry:vfs_truncate", observation.ArgKind{Expected: btfWords, Given: "ctx_arg", BTFType: "path"}),
			verdict:  Consistent,
			evidence: []string{"argument 1 (file) is declared struct file *; the verifier wants a pointer to struct path"}},
		{name: "btf object declared a number", args: "[{name: path, type: u64}]",
			record:   complete("tracing/fentry:vfs_truncate", observation.ArgKind{Expected: btfWords, Given: "ctx_arg", BTFType: "path"}),
			verdict:  Contradicted,
			evidence: []string{"argument 1 (path) is declared u64 (scalar), the verifier on 7.3 expects pointer"}},
		{name: "variadic", args: "[{name: fmt, type: const char *}, {name: fmt_size, type: u32}, {name: '...', type: '...'}]",
			record:  complete("socket_filter/socket_filter", recorded("stack", memWords...), recorded("size", "size")),
			verdict: Confirmed,
			notes:   []string{"the variadic arguments (...) declare no kind; the verifier on 7.3 checks no register after argument 2"}},
		{name: "argument the verifier does not read", args: "[{name: skb, type: struct sk_buff *}]",
			record:   complete("socket_filter/socket_filter"),
			verdict:  Consistent,
			evidence: []string{"argument 1 (skb): the verifier on 7.3 checks no such argument (socket_filter/socket_filter)"}},
		{name: "not reached", args: "[{name: tp, type: void *}, {name: rcv_nxt, type: u32}]",
			record: observation.HelperArgs{HelperID: 300, Variant: "struct_ops/tcp_ca", Detail: "R1 is of type task_struct but tcp_sock is expected",
				Args: []observation.ArgKind{{Expected: btfWords, Given: "task", BTFType: "tcp_sock"}}},
			verdict:  Consistent,
			evidence: []string{"1 of 2 arguments confirmed", "argument 2 (rcv_nxt): not reached", "tcp_sock is expected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mkEntry(t, "300", "test_helper", tt.args)
			ks := []Kernel{withArgs(kernel("7.3", "7.3.4"), tt.record)}
			cv := judgeArgKinds(h, ks)
			if cv.Verdict != tt.verdict {
				t.Fatalf("verdict %s (%s), want %s", cv.Verdict, cv.Evidence, tt.verdict)
			}
			for _, e := range tt.evidence {
				if !strings.Contains(cv.Evidence, e) {
					t.Errorf("evidence %q lacks %q", cv.Evidence, e)
				}
			}
			for _, n := range tt.notes {
				if !strings.Contains(strings.Join(cv.Notes, "\n"), n) {
					t.Errorf("notes %q lack %q", cv.Notes, n)
				}
			}
		})
	}
}

// TestArgKindsEvidence: the newest kernel whose walk was complete speaks for the helper, not a
// newer one whose walk stopped short; without a record on any kernel there is no evidence.
func TestArgKindsEvidence(t *testing.T) {
	h := mkEntry(t, "300", "test_helper", "[{name: ptr, type: struct bpf_dynptr *}, {name: flags, type: u64}]")
	full := observation.HelperArgs{HelperID: 300, Variant: "socket_filter/socket_filter", Complete: true,
		Args: []observation.ArgKind{recorded("dynptr", "fp", "dynptr_ptr"), recorded("scalar", "any")}}
	short := observation.HelperArgs{HelperID: 300, Variant: "socket_filter/socket_filter", Detail: "Expected an initialized dynptr as R1",
		Args: []observation.ArgKind{recorded("stack", "fp", "dynptr_ptr")}}
	ks := []Kernel{
		withArgs(kernel("6.12", "6.12.118"), full),
		withArgs(kernel("7.3", "7.3.4"), short),
	}
	if cv := judgeArgKinds(h, ks); cv.Verdict != Confirmed || !strings.Contains(cv.Evidence, "6.12") {
		t.Errorf("with a complete walk on 6.12 and a short one on 7.3: %s, %s", cv.Verdict, cv.Evidence)
	}
	if cv := judgeArgKinds(h, ks[1:]); cv.Verdict != Consistent || !strings.Contains(cv.Evidence, "7.3") {
		t.Errorf("with a short walk only: %s, %s", cv.Verdict, cv.Evidence)
	}
	failed := ks[0]
	failed.Failed = true
	if cv := judgeArgKinds(h, []Kernel{failed}); cv.Verdict != NoEvidence {
		t.Errorf("with a failed kernel only: %s, %s", cv.Verdict, cv.Evidence)
	}
}

// TestArgKindsUnreadRegister: a register the verifier does not read at all (ARG_DONTCARE) is an
// argument when the helper's BPF_CALL wrapper takes it; a number declared there is confirmed,
// since any value passes, and a pointer is left open.
func TestArgKindsUnreadRegister(t *testing.T) {
	record := observation.HelperArgs{HelperID: 300, Variant: "socket_filter/socket_filter", Complete: true,
		Args: []observation.ArgKind{recorded("stack", memWords...), recorded("scalar", "scalar")}}
	wrapper := map[int][]string{300: {"entries", "size", "flags"}}
	tests := []struct {
		name    string
		third   string
		wrapper map[int][]string
		verdict Word
		want    string
	}{
		{name: "number the wrapper takes", third: "u64", wrapper: wrapper, verdict: Confirmed,
			want: "argument 3 (flags): the verifier on 7.3 does not read the register; the kernel's BPF_CALL wrapper takes it as flags"},
		{name: "pointer the wrapper takes", third: "void *", wrapper: wrapper, verdict: Consistent,
			want: "argument 3 (flags): the verifier on 7.3 checks no such argument"},
		{name: "no wrapper", third: "u64", verdict: Consistent,
			want: "argument 3 (flags): the verifier on 7.3 checks no such argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mkEntry(t, "300", "test_helper", "[{name: entries, type: void *}, {name: size, type: u32}, {name: flags, type: '"+tt.third+"'}]")
			k := withArgs(withBTF(kernel("7.3", "7.3.4"), 300, nil, tt.wrapper), record)
			cv := judgeArgKinds(h, []Kernel{k})
			if cv.Verdict != tt.verdict || !strings.Contains(cv.Evidence+strings.Join(cv.Notes, "\n"), tt.want) {
				t.Fatalf("%s: %s %q, want %s with %q", tt.name, cv.Verdict, cv.Evidence+" / "+strings.Join(cv.Notes, " / "), tt.verdict, tt.want)
			}
		})
	}
}
