package asm

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	ebpfasm "github.com/cilium/ebpf/asm"

	"github.com/bpfmatrix/bpfmatrix/internal/hostkernel"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

func testRegistry(t testing.TB) *registry.Registry {
	t.Helper()
	return testenv.Must(registry.Load("testdata/helpers.yaml"))(t)
}

func TestCall(t *testing.T) {
	reg := testRegistry(t)
	tests := []struct {
		in      string
		wantID  int64
		wantErr string
	}{
		{in: "ktime_get_ns", wantID: 5},
		{in: "bpf_ktime_get_ns", wantID: 5},
		{in: "5", wantID: 5},
		{in: "ktime_get_boot_ns", wantID: 125},
		{in: "ktime_get_real_ns", wantErr: "ktime_get_real_ns"},
		{in: "212", wantErr: "212"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ins, err := Call(reg, tt.in)
			if tt.wantErr != "" {
				if !errors.Is(err, registry.ErrUnknownHelper) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Call(%q) error = %v, want ErrUnknownHelper naming %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ins.IsBuiltinCall() || ins.Constant != tt.wantID {
				t.Fatalf("Call(%q) = %v, want call #%d", tt.in, ins, tt.wantID)
			}
		})
	}
}

// simulate runs the register moves LoadArgs emits on a register file and returns it.
func simulate(t *testing.T, insns ebpfasm.Instructions, regs [11]int64) [11]int64 {
	t.Helper()
	for _, ins := range insns {
		switch {
		case ins.OpCode == ebpfasm.Mov.Op(ebpfasm.RegSource):
			regs[ins.Dst] = regs[ins.Src]
		case ins.OpCode == ebpfasm.Mov.Op(ebpfasm.ImmSource):
			regs[ins.Dst] = ins.Constant
		case ins.OpCode.IsDWordLoad():
			regs[ins.Dst] = ins.Constant
		default:
			t.Fatalf("unexpected instruction %v", ins)
		}
		if ins.Dst == ebpfasm.R10 || (ins.Dst >= ebpfasm.R6 && ins.Dst <= ebpfasm.R9) {
			t.Fatalf("%v writes a register the caller owns", ins)
		}
	}
	return regs
}

func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func TestLoadArgs(t *testing.T) {
	type tc struct {
		name string
		args []Arg
	}
	tests := []tc{
		{"none", nil},
		{"imm", []Arg{Imm(1), Imm(-2), Imm(1 << 40)}},
		{"frame pointer", []Arg{Reg(ebpfasm.R10), Imm(8)}},
		{"imm over a source", []Arg{Imm(7), Reg(ebpfasm.R1)}},
		{"r0 source in a cycle", []Arg{Reg(ebpfasm.R2), Reg(ebpfasm.R1), Reg(ebpfasm.R0)}},
		{"chain into a cycle", []Arg{Reg(ebpfasm.R2), Reg(ebpfasm.R1), Reg(ebpfasm.R2), Reg(ebpfasm.R6), Reg(ebpfasm.R4)}},
		{"fan out", []Arg{Reg(ebpfasm.R3), Reg(ebpfasm.R3), Reg(ebpfasm.R1)}},
	}
	// Every permutation of r1..r5, including the ones made of several cycles, and each of
	// them with one position replaced by an immediate.
	for _, p := range permutations(5) {
		args := make([]Arg, 5)
		for i, src := range p {
			args[i] = Reg(ebpfasm.R1 + ebpfasm.Register(src))
		}
		tests = append(tests, tc{fmt.Sprint("perm", p), args})
		withImm := append([]Arg(nil), args...)
		withImm[p[0]] = Imm(-1)
		tests = append(tests, tc{fmt.Sprint("perm+imm", p), withImm})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			insns, err := LoadArgs(tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			var before [11]int64
			for r := range before {
				before[r] = 1000 + int64(r)
			}
			after := simulate(t, insns, before)
			for i, a := range tt.args {
				want := a.imm
				if a.isReg {
					want = before[a.reg]
				}
				if got := after[ebpfasm.R1+ebpfasm.Register(i)]; got != want {
					t.Errorf("r%d = %d, want %d (%s)\n%v", i+1, got, want, a, insns)
				}
			}
			for r := ebpfasm.R1 + ebpfasm.Register(len(tt.args)); r <= ebpfasm.R10; r++ {
				if after[r] != before[r] {
					t.Errorf("r%d changed from %d to %d but is not an argument", r, before[r], after[r])
				}
			}
		})
	}
}

func TestLoadArgsErrors(t *testing.T) {
	if _, err := LoadArgs(Imm(1), Imm(2), Imm(3), Imm(4), Imm(5), Imm(6)); !errors.Is(err, ErrTooManyArgs) {
		t.Errorf("six arguments: error = %v, want ErrTooManyArgs", err)
	}
	if _, err := LoadArgs(Reg(ebpfasm.Register(11))); err == nil {
		t.Error("register r11: no error")
	}
	reg := testRegistry(t)
	if _, err := CallWithArgs(reg, "ktime_get_ns", Imm(1)); !errors.Is(err, ErrTooManyArgs) {
		t.Errorf("ktime_get_ns with an argument: error = %v, want ErrTooManyArgs", err)
	}
	if _, err := CallWithArgs(reg, "no_such_helper"); !errors.Is(err, registry.ErrUnknownHelper) {
		t.Errorf("unknown helper: error = %v, want ErrUnknownHelper", err)
	}
}

func TestCallFirstAvailable(t *testing.T) {
	reg := testRegistry(t)
	v := registry.MustParseVersion
	tests := []struct {
		name     string
		progType string
		kernel   registry.Version
		names    []string
		want     string
		wantErr  error
	}{
		{"newer kernel takes the first", "kprobe", v("5.8"), []string{"ktime_get_boot_ns", "ktime_get_ns"}, "ktime_get_boot_ns", nil},
		{"older kernel falls back", "kprobe", v("5.4"), []string{"ktime_get_boot_ns", "ktime_get_ns"}, "ktime_get_ns", nil},
		{"6.10 is newer than 5.8", "xdp", v("6.10"), []string{"ktime_get_boot_ns", "ktime_get_ns"}, "ktime_get_boot_ns", nil},
		{"type not offered", "xdp", v("6.1"), []string{"probe_read_kernel"}, "", ErrNoCompatibleHelper},
		{"nothing on an old kernel", "kprobe", v("5.4"), []string{"ktime_get_boot_ns"}, "", ErrNoCompatibleHelper},
		{"typo is not skipped", "kprobe", v("6.1"), []string{"ktime_get_bot_ns", "ktime_get_ns"}, "", registry.ErrUnknownHelper},
		{"unknown prog type", "kprobes", v("6.1"), []string{"ktime_get_ns"}, "", registry.ErrUnknownProgType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ins, h, err := CallFirstAvailable(reg, tt.progType, tt.kernel, tt.names...)
			if testenv.WantErrIs(t, err, tt.wantErr) {
				return
			}
			if h.Name != tt.want || ins.Constant != int64(h.ID) || !ins.IsBuiltinCall() {
				t.Fatalf("got %v (%s), want a call of %s", ins, h.Name, tt.want)
			}
		})
	}
}

// load loads insns into the running kernel and closes the program right away.
func load(t *testing.T, typ ebpf.ProgramType, insns ebpfasm.Instructions) {
	t.Helper()
	testenv.NeedRoot(t)
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Type:         typ,
		Instructions: insns,
		License:      "GPL",
	}, ebpf.ProgramOptions{LogLevel: ebpf.LogLevelInstruction})
	if err != nil {
		t.Fatalf("load %s:\n%v\n%+v", typ, insns, err)
	}
	prog.Close()
}

// frameBuffer points r6 at an 8-byte stack slot.
var frameBuffer = ebpfasm.Instructions{
	ebpfasm.Mov.Reg(ebpfasm.R6, ebpfasm.R10),
	ebpfasm.Add.Imm(ebpfasm.R6, -8),
}

var exit0 = ebpfasm.Instructions{ebpfasm.Mov.Imm(ebpfasm.R0, 0), ebpfasm.Return()}

func TestLoadInKernel(t *testing.T) {
	reg := testRegistry(t)
	release, err := hostkernel.Release()
	if err != nil {
		t.Fatal(err)
	}
	running, err := registry.ParseVersion(release)
	if err != nil {
		t.Fatal(err)
	}
	mustCall := func(name string, args ...Arg) ebpfasm.Instructions {
		insns, err := CallWithArgs(reg, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		return insns
	}
	cat := func(parts ...ebpfasm.Instructions) ebpfasm.Instructions {
		var out ebpfasm.Instructions
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	first, _, err := CallFirstAvailable(reg, "xdp", running, "ktime_get_boot_ns", "ktime_get_ns")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		typ   ebpf.ProgramType
		insns ebpfasm.Instructions
	}{
		{"probe program", ebpf.XDP, ProbeProgramReturning(5, 0)},
		{"trivial program", ebpf.SocketFilter, TrivialProgramReturning(0)},
		{"first available", ebpf.XDP, cat(ebpfasm.Instructions{first}, exit0)},
		// The verifier accepts probe_read_kernel only with a stack pointer in r1 and a
		// constant size in r2, so these loads check the wrapper's register moves.
		{"immediates and registers", ebpf.Kprobe, cat(frameBuffer,
			mustCall("probe_read_kernel", Reg(ebpfasm.R6), Imm(8), Reg(ebpfasm.R1)), exit0)},
		{"swap", ebpf.Kprobe, cat(frameBuffer, ebpfasm.Instructions{
			ebpfasm.Mov.Imm(ebpfasm.R1, 8),
			ebpfasm.Mov.Reg(ebpfasm.R2, ebpfasm.R6),
			ebpfasm.Mov.Imm(ebpfasm.R3, 0),
		}, mustCall("probe_read_kernel", Reg(ebpfasm.R2), Reg(ebpfasm.R1), Reg(ebpfasm.R3)), exit0)},
		{"three-cycle", ebpf.Kprobe, cat(frameBuffer, ebpfasm.Instructions{
			ebpfasm.Mov.Imm(ebpfasm.R1, 8),
			ebpfasm.Mov.Imm(ebpfasm.R2, 0),
			ebpfasm.Mov.Reg(ebpfasm.R3, ebpfasm.R6),
		}, mustCall("probe_read_kernel", Reg(ebpfasm.R3), Reg(ebpfasm.R1), Reg(ebpfasm.R2)), exit0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { load(t, tt.typ, tt.insns) })
	}
}

// TestLoadCatchesWrongMoves makes sure the in-kernel checks above can fail: the same call with
// the arguments in the wrong registers is refused.
func TestLoadCatchesWrongMoves(t *testing.T) {
	testenv.NeedRoot(t)
	reg := testRegistry(t)
	call, err := CallWithArgs(reg, "probe_read_kernel", Imm(8), Reg(ebpfasm.R6), Imm(0))
	if err != nil {
		t.Fatal(err)
	}
	insns := append(append(append(ebpfasm.Instructions{}, frameBuffer...), call...), exit0...)
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{Type: ebpf.Kprobe, Instructions: insns, License: "GPL"}, ebpf.ProgramOptions{})
	if err == nil {
		prog.Close()
		t.Fatal("the kernel accepted probe_read_kernel with a scalar destination")
	}
}

func TestMarshal(t *testing.T) {
	b, err := Marshal(ProbeProgramReturning(212, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 8*ebpfasm.InstructionSize {
		t.Fatalf("probe program is %d bytes, want 8 instructions", len(b))
	}
	// Instruction 5 is the call: opcode 0x85, immediate = helper id.
	call := b[5*8 : 6*8]
	if call[0] != 0x85 || call[4] != 212 {
		t.Fatalf("call instruction encodes as % x", call)
	}
}
