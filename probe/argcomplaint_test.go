package probe

import (
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
)

// argGolden is the complaint a golden log holds. mem stands for expected: a memory pointer,
// whose kinds each kernel lists in words of its own.
type argGolden struct {
	kind     verifierlog.Kind
	reg      int
	got      string
	expected []string
	mem      bool
}

// argGoldens are the complaints in the argument probes' golden logs (arg-<kind>.log), by kind.
var argGoldens = map[string]argGolden{
	"map-ptr":              {verifierlog.WrongType, 1, "scalar", []string{"map_ptr"}, false},
	"mem":                  {verifierlog.WrongType, 2, "scalar", nil, true},
	"ctx":                  {verifierlog.WrongType, 1, "scalar", []string{"ctx"}, false},
	"func":                 {verifierlog.WrongType, 2, "scalar", []string{"func"}, false},
	"zero-size":            {verifierlog.BadSize, 2, "", nil, false},
	"zero-size-kprobe":     {verifierlog.BadSize, 2, "", nil, false},
	"map-type":             {verifierlog.WrongMapType, 0, "", nil, false},
	"sock":                 {verifierlog.WrongType, 1, "scalar", []string{"sock_common", "sock", "tcp_sock", "xdp_sock"}, false},
	"btf-ptr":              {verifierlog.WrongType, 1, "scalar", []string{"ptr_", "trusted_ptr_", "rcu_ptr_"}, false},
	"btf-type":             {verifierlog.WrongBTFType, 1, "task_struct", []string{"path"}, false},
	"btf-field":            {verifierlog.NeedsBTFField, 0, "bpf_timer", nil, false},
	"const-str":            {verifierlog.WrongType, 3, "fp", []string{"map_value"}, false},
	"must-be-referenced":   {verifierlog.OtherArg, 1, "", nil, false},
	"dynptr-uninit":        {verifierlog.OtherArg, 1, "", nil, false},
	"dynptr-unacquired":    {verifierlog.OtherArg, 1, "", nil, false},
	"dynptr-data":          {verifierlog.OtherArg, 1, "fp", []string{"map_value"}, false},
	"null-probe":           {verifierlog.WrongType, 1, "map_ptr", nil, true},
	"size-of-map-ptr":      {verifierlog.WrongType, 3, "map_ptr", []string{"scalar"}, false},
	"unreleased-reference": {verifierlog.NotAboutArg, 0, "", nil, false},
	"loaded":               {verifierlog.NotAboutArg, 0, "", nil, false},
	"ksym-refused":         {verifierlog.NotAboutArg, 0, "", nil, false},
	"maybe-null-type":      {verifierlog.WrongType, 1, "ptr_or_null_", []string{"sock_common", "sock", "tcp_sock", "xdp_sock", "ptr_", "trusted_ptr_"}, false},
	"maybe-null-btf":       {verifierlog.WrongType, 1, "ptr_or_null_", []string{"ptr_", "trusted_ptr_", "rcu_ptr_"}, false},
	"possibly-null":        {verifierlog.PossiblyNull, 2, "", nil, false},
	"unset-arg":            {verifierlog.UnsetArg, 3, "", nil, false},
	"flags-value":          {verifierlog.NotAboutArg, 0, "", nil, false},
	"dynptr-ringbuf":       {verifierlog.OtherArg, 1, "", nil, false},
	"ctx-arg-skb":          {verifierlog.WrongType, 2, "scalar", []string{"map_ptr"}, false},
	"ctx-arg-path":         {verifierlog.WrongType, 2, "scalar", nil, true},
	"ctx-arg-inode":        {verifierlog.WrongType, 2, "scalar", nil, true},
	"ctx-arg-tcp-sock":     {verifierlog.NotAboutArg, 0, "", nil, false},
	"ctx-arg-task":         {verifierlog.WrongType, 2, "scalar", nil, true},
}

// argGoldenExceptions are the kernels whose wording of a golden kind parses differently; the
// walk makes up the difference (unnamedReg, countedReg). 5.10 calls a number "inv", which the
// test reads as "scalar" (see goldenWord).
var argGoldenExceptions = map[string]map[string]argGolden{
	// "invalid zero-sized read" names no register, nor does "func bpf_sk_release#86
	// reference has not been acquired before".
	"5.10": {
		"zero-size-kprobe":   {verifierlog.BadSize, 0, "", nil, false},
		"must-be-referenced": {verifierlog.OtherArg, 0, "", nil, false},
		"maybe-null-type":    {verifierlog.WrongType, 1, "ptr_or_null_", []string{"sock_common", "sock", "tcp_sock", "xdp_sock", "ptr_"}, false},
	},
	// "Expected an initialized dynptr as arg #1" counts from 1: read from 0, it names r2.
	"6.1": {
		"zero-size-kprobe": {verifierlog.BadSize, 0, "", nil, false},
		"dynptr-uninit":    {verifierlog.OtherArg, 2, "", nil, false},
		"maybe-null-type":  {verifierlog.WrongType, 1, "ptr_or_null_", []string{"sock_common", "sock", "tcp_sock", "xdp_sock", "ptr_"}, false},
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
	seen := map[string]bool{}
	for _, g := range goldenLogs(t, "") {
		kind := g.kind
		if !strings.HasPrefix(kind, "arg-") && kind != "supported-arg-error" && kind != "supported-arg-map" {
			continue
		}
		t.Run(g.kernel+"/"+kind, func(t *testing.T) {
			c := verifierlog.ParseComplaint(g.log)
			decidedBy(t, g, c.Row, c.Line)
			switch kind {
			case "supported-arg-error": // bpf_probe_read: R1 is memory
				if c.Kind != verifierlog.WrongType || c.Reg != 1 || !slices.Contains(c.Expected, "fp") {
					t.Fatalf("%+v, want R1 expected to be memory", c)
				}
				return
			case "supported-arg-map": // bpf_map_lookup_elem: R1 is a map
				if c.Kind != verifierlog.WrongType || c.Reg != 1 || !slices.Equal(c.Expected, []string{"map_ptr"}) {
					t.Fatalf("%+v, want R1 expected to be a map", c)
				}
				return
			}
			kind = strings.TrimPrefix(kind, "arg-")
			want, ok := argGoldens[kind]
			if !ok {
				t.Fatalf("no expected complaint for %s: add it to argGoldens", g.file)
			}
			if w, ok := argGoldenExceptions[g.kernel][kind]; ok {
				want = w
			}
			seen[kind] = true
			c.Got = goldenWord(c.Got)
			for i, e := range c.Expected {
				c.Expected[i] = goldenWord(e)
			}
			expectedOK := slices.Equal(c.Expected, want.expected)
			if want.mem {
				expectedOK = slices.Contains(c.Expected, "fp") && !slices.Contains(c.Expected, "scalar")
			}
			if c.Kind != want.kind || c.Reg != want.reg || c.Got != want.got || !expectedOK {
				t.Fatalf("ParseComplaint = %+v\nwant kind %s reg %d got %q expected %q\n%s", c, want.kind, want.reg, want.got, want.expected, g.log)
			}
			if kind == "ksym-refused" && verifierlog.LastInsn(g.log) >= 0 {
				t.Fatalf("a load refused before any instruction shows instruction %d", verifierlog.LastInsn(g.log))
			}
		})
	}
	for kind := range argGoldens {
		if !seen[kind] {
			t.Errorf("no golden log arg-%s.log in any kernel's directory", kind)
		}
	}
}
