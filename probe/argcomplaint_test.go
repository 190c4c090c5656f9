package probe

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var memKinds = []string{"fp", "pkt", "pkt_meta", "map_key", "map_value", "mem", "ringbuf_mem", "buf", "trusted_ptr_"}

// TestParseComplaintLine covers the verifier's wordings one line at a time: the register, what
// it held and what the verifier wanted, and the lines that are about no argument.
func TestParseComplaintLine(t *testing.T) {
	tests := []struct {
		line     string
		kind     complaintKind
		reg      int
		got      string
		expected []string
		mapType  int
		about    bool // parseComplaintLine's second result
		argNum   *int // the "arg #N" named; nil for none
	}{
		{line: "R1 type=scalar expected=map_ptr", kind: wrongType, reg: 1, got: "scalar", expected: []string{"map_ptr"}, about: true},
		{line: "R2 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_",
			kind: wrongType, reg: 2, got: "scalar", expected: memKinds, about: true},
		{line: "R1 type=scalar expected=ctx", kind: wrongType, reg: 1, got: "scalar", expected: []string{"ctx"}, about: true},
		{line: "R3 type=scalar expected=func", kind: wrongType, reg: 3, got: "scalar", expected: []string{"func"}, about: true},
		// 5.10 calls a number "inv".
		{line: "R1 type=inv expected=fp, pkt, pkt_meta, map_value, mem, rdonly_buf, rdwr_buf", kind: wrongType, reg: 1, got: "inv",
			expected: []string{"fp", "pkt", "pkt_meta", "map_value", "mem", "rdonly_buf", "rdwr_buf"}, about: true},
		{line: "R3 type=map_ptr expected=scalar", kind: wrongType, reg: 3, got: "map_ptr", expected: []string{"scalar"}, about: true},
		{line: "R1 type=ptr_or_null_ expected=ptr_, trusted_ptr_, rcu_ptr_", kind: wrongType, reg: 1, got: "ptr_or_null_",
			expected: []string{"ptr_", "trusted_ptr_", "rcu_ptr_"}, about: true},
		{line: "R2 invalid zero-sized read: u64=[0,0]", kind: badSize, reg: 2, about: true},
		{line: "R2 invalid zero-sized read", kind: badSize, reg: 2, about: true},
		// 5.10 and 6.1 name no register.
		{line: "invalid zero-sized read", kind: badSize, about: true},
		{line: "R2 min value is negative, either use unsigned or 'var &= const'", kind: badSize, reg: 2, about: true},
		{line: "R3 unbounded memory access, use 'var &= const' or 'if (var < const)'", kind: badSize, reg: 3, about: true},
		{line: "Possibly NULL pointer passed to helper arg2", kind: possiblyNull, reg: 2, about: true},
		{line: "Possibly NULL pointer passed to helper R2", kind: possiblyNull, reg: 2, about: true}, // 7.2 on
		{line: "R1 is of type task_struct but path is expected", kind: wrongBTFType, reg: 1, got: "task_struct", expected: []string{"path"}, about: true},
		{line: "cannot pass map_type 1 into func bpf_ringbuf_output#130", kind: wrongMapType, mapType: 1, about: true},
		{line: "map 'bpfmatrix_arg' has to have BTF in order to use bpf_timer", kind: needsBTFField, got: "bpf_timer", about: true},
		{line: "R1 must be referenced when passed to release function", kind: otherArg, reg: 1, about: true},
		{line: "R1 must be a rdonly or const str", kind: otherArg, reg: 1, about: true},
		{line: "arg#0 expected pointer to stack or const struct bpf_dynptr", kind: otherArg, reg: 1, about: true, argNum: ptr(0)},
		{line: "Expected an initialized dynptr as arg #2", kind: otherArg, reg: 3, about: true, argNum: ptr(2)},
		// 7.2 on name the register.
		{line: "Expected an initialized dynptr as R1", kind: otherArg, reg: 1, about: true},
		{line: "release helper bpf_sk_release expects referenced PTR_TO_BTF_ID passed to R1", kind: otherArg, reg: 1, about: true},
		// 5.10 names none: the value given last is meant.
		{line: "func bpf_sk_release#86 reference has not been acquired before", kind: otherArg, about: true},
		// A register left without a value that the helper reads.
		{line: "R3 !read_ok", kind: unsetArg, reg: 3, about: true},
		{line: "arg 1 is an unacquired reference", kind: otherArg, reg: 1, about: true},
		{line: "Unsupported reg type fp for bpf_dynptr_from_mem data", kind: otherArg, reg: 1, got: "fp", expected: []string{"map_value"}, about: true},
		{line: "invalid indirect read from stack R2 off -128+0 size 256", kind: otherArg, reg: 2, about: true},
		{line: "invalid access to map value, value_size=8 off=0 size=64", kind: otherArg, about: true},
		// Not about an argument register: R0 and R6..R10, and what the verifier says after
		// the call.
		{line: "R0 leaks addr as return value", kind: otherArg},
		{line: "R6 !read_ok", kind: unsetArg},
		{line: "get_local_storage() doesn't support non-zero flags", kind: notAboutArg},
		{line: "R10 type=fp expected=map_ptr", kind: wrongType, got: "fp", expected: []string{"map_ptr"}},
		{line: "Unreleased reference id=2 alloc_insn=24", kind: notAboutArg},
		{line: "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region", kind: notAboutArg},
		{line: "At program exit the register R0 has smin=0 smax=0 should have been in [1, 1]", kind: notAboutArg},
		{line: "ldimm64 failed to find the address for kernel symbol 'bpf_prog_active'.", kind: notAboutArg},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c, about := parseComplaintLine(tt.line)
			argNum := -1
			if tt.argNum != nil {
				argNum = *tt.argNum
			}
			if about != tt.about || c.kind != tt.kind || c.reg != tt.reg || c.got != tt.got ||
				!slices.Equal(c.expected, tt.expected) || c.mapType != tt.mapType || c.argNum != argNum {
				t.Fatalf("parseComplaintLine(%q) = %+v, %v\nwant kind %s reg %d got %q expected %q map type %d, %v",
					tt.line, c, about, tt.kind, tt.reg, tt.got, tt.expected, tt.mapType, tt.about)
			}
		})
	}
}

func ptr(n int) *int { return &n }

// TestParseComplaintLog checks that the refusal is read after the last instruction of the trace
// and before 7.3's explanation, whatever register state is printed on the way.
func TestParseComplaintLog(t *testing.T) {
	log := `func#0 @0
func#1 @40
0: R1=ctx() R10=fp0
39: (85) call bpf_loop#181
caller:
 frame1: R10=fp0
callee:
 frame1: R1=scalar() R10=fp0
40: frame1: R1=scalar() R10=fp0
40: (b7) r0 = 0                       ; frame1: R0_w=0
41: (95) exit
returning from callee:
 frame1: R0_w=0
to caller at 39:
 R0=scalar() R10=fp0
39: (85) call bpf_loop#181
R4 min value is negative, either use unsigned or 'var &= const'

Verification failed: Call Type Safety: Invalid call argument
  The fourth argument (R4) ...
R1 type=scalar expected=map_ptr
processed 30 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0
`
	c := parseComplaint(log)
	if c.kind != badSize || c.reg != 4 {
		t.Fatalf("parseComplaint = %+v, want a bad size in R4", c)
	}
	if got := lastInsn(log); got != 39 {
		t.Fatalf("lastInsn = %d, want 39", got)
	}
	if c := parseComplaint("processed 0 insns (limit 1000000)\n"); c.kind != notAboutArg || c.line != "" {
		t.Fatalf("parseComplaint of a log without a message = %+v", c)
	}
}

// argGolden is the complaint a golden log holds. mem stands for expected: a memory pointer,
// whose kinds each kernel lists in words of its own.
type argGolden struct {
	kind     complaintKind
	reg      int
	got      string
	expected []string
	mem      bool
}

// argGoldens are the complaints in the argument probes' golden logs (arg-<kind>.log), by kind.
var argGoldens = map[string]argGolden{
	"map-ptr":              {wrongType, 1, "scalar", []string{"map_ptr"}, false},
	"mem":                  {wrongType, 2, "scalar", nil, true},
	"ctx":                  {wrongType, 1, "scalar", []string{"ctx"}, false},
	"func":                 {wrongType, 2, "scalar", []string{"func"}, false},
	"zero-size":            {badSize, 2, "", nil, false},
	"zero-size-kprobe":     {badSize, 2, "", nil, false},
	"map-type":             {wrongMapType, 0, "", nil, false},
	"sock":                 {wrongType, 1, "scalar", []string{"sock_common", "sock", "tcp_sock", "xdp_sock"}, false},
	"btf-ptr":              {wrongType, 1, "scalar", []string{"ptr_", "trusted_ptr_", "rcu_ptr_"}, false},
	"btf-type":             {wrongBTFType, 1, "task_struct", []string{"path"}, false},
	"btf-field":            {needsBTFField, 0, "bpf_timer", nil, false},
	"const-str":            {wrongType, 3, "fp", []string{"map_value"}, false},
	"must-be-referenced":   {otherArg, 1, "", nil, false},
	"dynptr-uninit":        {otherArg, 1, "", nil, false},
	"dynptr-unacquired":    {otherArg, 1, "", nil, false},
	"dynptr-data":          {otherArg, 1, "fp", []string{"map_value"}, false},
	"null-probe":           {wrongType, 1, "map_ptr", nil, true},
	"size-of-map-ptr":      {wrongType, 3, "map_ptr", []string{"scalar"}, false},
	"unreleased-reference": {notAboutArg, 0, "", nil, false},
	"loaded":               {notAboutArg, 0, "", nil, false},
	"ksym-refused":         {notAboutArg, 0, "", nil, false},
	"maybe-null-type":      {wrongType, 1, "ptr_or_null_", []string{"sock_common", "sock", "tcp_sock", "xdp_sock", "ptr_", "trusted_ptr_"}, false},
	"maybe-null-btf":       {wrongType, 1, "ptr_or_null_", []string{"ptr_", "trusted_ptr_", "rcu_ptr_"}, false},
	"possibly-null":        {possiblyNull, 2, "", nil, false},
	"unset-arg":            {unsetArg, 3, "", nil, false},
	"flags-value":          {notAboutArg, 0, "", nil, false},
	"dynptr-ringbuf":       {otherArg, 1, "", nil, false},
	"ctx-arg-skb":          {wrongType, 2, "scalar", []string{"map_ptr"}, false},
	"ctx-arg-path":         {wrongType, 2, "scalar", nil, true},
	"ctx-arg-inode":        {wrongType, 2, "scalar", nil, true},
	"ctx-arg-tcp-sock":     {notAboutArg, 0, "", nil, false},
	"ctx-arg-task":         {wrongType, 2, "scalar", nil, true},
}

// argGoldenExceptions are the kernels whose wording of a golden kind parses differently; the
// walk makes up the difference (unnamedReg, countedReg). 5.10 calls a number "inv", which the
// test reads as "scalar" (see goldenWord).
var argGoldenExceptions = map[string]map[string]argGolden{
	// "invalid zero-sized read" names no register, nor does "func bpf_sk_release#86
	// reference has not been acquired before".
	"5.10": {
		"zero-size-kprobe":   {badSize, 0, "", nil, false},
		"must-be-referenced": {otherArg, 0, "", nil, false},
		"maybe-null-type":    {wrongType, 1, "ptr_or_null_", []string{"sock_common", "sock", "tcp_sock", "xdp_sock", "ptr_"}, false},
	},
	// "Expected an initialized dynptr as arg #1" counts from 1: read from 0, it names r2.
	"6.1": {
		"zero-size-kprobe": {badSize, 0, "", nil, false},
		"dynptr-uninit":    {otherArg, 2, "", nil, false},
		"maybe-null-type":  {wrongType, 1, "ptr_or_null_", []string{"sock_common", "sock", "tcp_sock", "xdp_sock", "ptr_"}, false},
	},
}

// goldenWord reads 5.10's word for a number, "inv", as the later kernels' "scalar".
func goldenWord(w string) string {
	if w == "inv" {
		return "scalar"
	}
	return w
}

// TestParseComplaintGolden parses every argument probe's golden log, and the all-zero probes'
// argument complaints of every kernel (supported-arg-*.log), whose refusal is always about the
// first register the helper checks.
func TestParseComplaintGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/verifier-logs/*/*.log")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, file := range files {
		kind := strings.TrimSuffix(filepath.Base(file), ".log")
		if !strings.HasPrefix(kind, "arg-") && kind != "supported-arg-error" && kind != "supported-arg-map" {
			continue
		}
		t.Run(filepath.Base(filepath.Dir(file))+"/"+kind, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			for line := range strings.Lines(string(data)) {
				if !strings.HasPrefix(line, "# ") {
					log.WriteString(line)
				}
			}
			c := parseComplaint(log.String())
			switch kind {
			case "supported-arg-error": // bpf_probe_read: R1 is memory
				if c.kind != wrongType || c.reg != 1 || !slices.Contains(c.expected, "fp") {
					t.Fatalf("%+v, want R1 expected to be memory", c)
				}
				return
			case "supported-arg-map": // bpf_map_lookup_elem: R1 is a map
				if c.kind != wrongType || c.reg != 1 || !slices.Equal(c.expected, []string{"map_ptr"}) {
					t.Fatalf("%+v, want R1 expected to be a map", c)
				}
				return
			}
			kind = strings.TrimPrefix(kind, "arg-")
			want, ok := argGoldens[kind]
			if !ok {
				t.Fatalf("no expected complaint for %s: add it to argGoldens", file)
			}
			if w, ok := argGoldenExceptions[filepath.Base(filepath.Dir(file))][kind]; ok {
				want = w
			}
			seen[kind] = true
			c.got = goldenWord(c.got)
			for i, e := range c.expected {
				c.expected[i] = goldenWord(e)
			}
			expectedOK := slices.Equal(c.expected, want.expected)
			if want.mem {
				expectedOK = slices.Contains(c.expected, "fp") && !slices.Contains(c.expected, "scalar")
			}
			if c.kind != want.kind || c.reg != want.reg || c.got != want.got || !expectedOK {
				t.Fatalf("parseComplaint = %+v\nwant kind %s reg %d got %q expected %q\n%s", c, want.kind, want.reg, want.got, want.expected, log.String())
			}
			if kind == "ksym-refused" && lastInsn(log.String()) >= 0 {
				t.Fatalf("a load refused before any instruction shows instruction %d", lastInsn(log.String()))
			}
		})
	}
	for kind := range argGoldens {
		if !seen[kind] {
			t.Errorf("no golden log arg-%s.log in any kernel's directory", kind)
		}
	}
}
