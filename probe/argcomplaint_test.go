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
	"map-ptr":              {kind: verifierlog.WrongType, reg: 1, got: "scalar", expected: []string{"map_ptr"}},
	"mem":                  {kind: verifierlog.WrongType, reg: 2, got: "scalar", mem: true},
	"ctx":                  {kind: verifierlog.WrongType, reg: 1, got: "scalar", expected: []string{"ctx"}},
	"func":                 {kind: verifierlog.WrongType, reg: 2, got: "scalar", expected: []string{"func"}},
	"zero-size":            {kind: verifierlog.BadSize, reg: 2},
	"zero-size-kprobe":     {kind: verifierlog.BadSize, reg: 2},
	"map-type":             {kind: verifierlog.WrongMapType},
	"sock":                 {kind: verifierlog.WrongType, reg: 1, got: "scalar", expected: []string{"sock_common", "sock", "tcp_sock", "xdp_sock"}},
	"btf-ptr":              {kind: verifierlog.WrongType, reg: 1, got: "scalar", expected: []string{"ptr_", "trusted_ptr_", "rcu_ptr_"}},
	"btf-type":             {kind: verifierlog.WrongBTFType, reg: 1, got: "task_struct", expected: []string{"path"}},
	"btf-field":            {kind: verifierlog.NeedsBTFField, got: "bpf_timer"},
	"const-str":            {kind: verifierlog.WrongType, reg: 3, got: "fp", expected: []string{"map_value"}},
	"must-be-referenced":   {kind: verifierlog.OtherArg, reg: 1},
	"dynptr-uninit":        {kind: verifierlog.OtherArg, reg: 1},
	"dynptr-unacquired":    {kind: verifierlog.OtherArg, reg: 1},
	"dynptr-data":          {kind: verifierlog.OtherArg, reg: 1, got: "fp", expected: []string{"map_value"}},
	"null-probe":           {kind: verifierlog.WrongType, reg: 1, got: "map_ptr", mem: true},
	"size-of-map-ptr":      {kind: verifierlog.WrongType, reg: 3, got: "map_ptr", expected: []string{"scalar"}},
	"unreleased-reference": {kind: verifierlog.NotAboutArg},
	"loaded":               {kind: verifierlog.NotAboutArg},
	"ksym-refused":         {kind: verifierlog.NotAboutArg},
	"maybe-null-type":      {kind: verifierlog.WrongType, reg: 1, got: "ptr_or_null_", expected: []string{"sock_common", "sock", "tcp_sock", "xdp_sock", "ptr_", "trusted_ptr_"}},
	"maybe-null-btf":       {kind: verifierlog.WrongType, reg: 1, got: "ptr_or_null_", expected: []string{"ptr_", "trusted_ptr_", "rcu_ptr_"}},
	"possibly-null":        {kind: verifierlog.PossiblyNull, reg: 2},
	"unset-arg":            {kind: verifierlog.UnsetArg, reg: 3},
	"flags-value":          {kind: verifierlog.NotAboutArg},
	"dynptr-ringbuf":       {kind: verifierlog.OtherArg, reg: 1},
	"ctx-arg-skb":          {kind: verifierlog.WrongType, reg: 2, got: "scalar", expected: []string{"map_ptr"}},
	"ctx-arg-path":         {kind: verifierlog.WrongType, reg: 2, got: "scalar", mem: true},
	"ctx-arg-inode":        {kind: verifierlog.WrongType, reg: 2, got: "scalar", mem: true},
	"ctx-arg-tcp-sock":     {kind: verifierlog.NotAboutArg},
	"ctx-arg-task":         {kind: verifierlog.WrongType, reg: 2, got: "scalar", mem: true},
}

// argGoldenExceptions are the kernels whose wording of a golden kind parses differently; the
// walk makes up the difference (unnamedReg, countedReg). 5.10 calls a number "inv", which the
// test reads as "scalar" (see goldenWord).
var argGoldenExceptions = map[string]map[string]argGolden{
	// "invalid zero-sized read" names no register, nor does "func bpf_sk_release#86
	// reference has not been acquired before".
	"5.10": {
		"zero-size-kprobe":   {kind: verifierlog.BadSize},
		"must-be-referenced": {kind: verifierlog.OtherArg},
		"maybe-null-type":    {kind: verifierlog.WrongType, reg: 1, got: "ptr_or_null_", expected: []string{"sock_common", "sock", "tcp_sock", "xdp_sock", "ptr_"}},
	},
	// "Expected an initialized dynptr as arg #1" counts from 1: read from 0, it names r2.
	"6.1": {
		"zero-size-kprobe": {kind: verifierlog.BadSize},
		"dynptr-uninit":    {kind: verifierlog.OtherArg, reg: 2},
		"maybe-null-type":  {kind: verifierlog.WrongType, reg: 1, got: "ptr_or_null_", expected: []string{"sock_common", "sock", "tcp_sock", "xdp_sock", "ptr_"}},
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
