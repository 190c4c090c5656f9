package asm

import (
	"bytes"
	"errors"
	"testing"

	ebpfasm "github.com/cilium/ebpf/asm"
)

// TestReleasing holds the epilogue's shape for every kind of probe program: the context saved
// in r6 first, the program's instructions up to its probed call unchanged and in order, then
// each release call with its arguments read from the context, then the program's return.
func TestReleasing(t *testing.T) {
	drop := ReleaseCall{Call: KfuncCall(70001), CtxArgs: []int16{0, 16}}
	kfree := ReleaseCall{Call: KfuncCall(70002), CtxArgs: []int16{8}}
	tests := []struct {
		name  string
		prog  ebpfasm.Instructions
		calls []ReleaseCall
	}{
		{"helper probe, one release", ProbeProgramReturning(5, 0), []ReleaseCall{kfree}},
		{"kfunc probe, one release of two args", KfuncProbeProgram(63566, 1), []ReleaseCall{drop}},
		{"trivial program, two releases", TrivialProgramReturning(0), []ReleaseCall{drop, kfree}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Releasing(tt.prog, tt.calls)
			if err != nil {
				t.Fatal(err)
			}
			n := len(tt.prog)
			want := ebpfasm.Instructions{ebpfasm.Mov.Reg(ebpfasm.R6, ebpfasm.R1)}
			want = append(want, tt.prog[:n-2]...)
			for _, c := range tt.calls {
				for i, off := range c.CtxArgs {
					want = append(want, ebpfasm.LoadMem(ebpfasm.R1+ebpfasm.Register(i), ebpfasm.R6, off, ebpfasm.DWord))
				}
				want = append(want, c.Call)
			}
			want = append(want, tt.prog[n-2:]...)
			gotB, err := Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			wantB, err := Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(gotB, wantB) {
				t.Fatalf("got\n%v\nwant\n%v", got, want)
			}
			// The marshalled form gives the same bytes: the probe wraps what it compiled.
			b, err := Marshal(tt.prog)
			if err != nil {
				t.Fatal(err)
			}
			wrapped, err := ReleasingMarshalled(b, tt.calls)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(wrapped, wantB) {
				t.Fatalf("ReleasingMarshalled gives\n% x\nwant\n% x", wrapped, wantB)
			}
		})
	}
}

// TestReleasingRefuses checks that a program the epilogue would break is refused, not wrapped.
func TestReleasingRefuses(t *testing.T) {
	call := []ReleaseCall{{Call: KfuncCall(70001), CtxArgs: []int16{0}}}
	tests := []struct {
		name string
		prog ebpfasm.Instructions
	}{
		{"empty", nil},
		{"no return value", ebpfasm.Instructions{ebpfasm.Mov.Imm(ebpfasm.R1, 0), ebpfasm.Return()}},
		{"no exit", ebpfasm.Instructions{ebpfasm.Mov.Imm(ebpfasm.R0, 0), ebpfasm.Mov.Imm(ebpfasm.R0, 0)}},
		{"a jump", ebpfasm.Instructions{ebpfasm.JEq.Imm(ebpfasm.R1, 0, "out"), ebpfasm.Mov.Imm(ebpfasm.R0, 0).WithSymbol("out"), ebpfasm.Return()}},
		{"r6 used", ebpfasm.Instructions{ebpfasm.Mov.Imm(ebpfasm.R6, 1), ebpfasm.Mov.Imm(ebpfasm.R0, 0), ebpfasm.Return()}},
		{"an early exit", ebpfasm.Instructions{ebpfasm.Return(), ebpfasm.Mov.Imm(ebpfasm.R0, 0), ebpfasm.Return()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Releasing(tt.prog, call); !errors.Is(err, ErrNotProbeShape) {
				t.Fatalf("Releasing = %v, want ErrNotProbeShape", err)
			}
		})
	}
	six := []ReleaseCall{{Call: KfuncCall(70001), CtxArgs: make([]int16, 6)}}
	if _, err := Releasing(TrivialProgramReturning(0), six); !errors.Is(err, ErrTooManyArgs) {
		t.Fatalf("six arguments: %v, want ErrTooManyArgs", err)
	}
}

// FuzzReleasingMarshalled feeds arbitrary bytes as a marshalled program: the result is an error
// or the program with the epilogue, as many instructions longer as the epilogue has, its
// return kept last.
func FuzzReleasingMarshalled(f *testing.F) {
	for _, prog := range []ebpfasm.Instructions{ProbeProgramReturning(5, 0), KfuncProbeProgram(63566, 1), TrivialProgramReturning(1)} {
		f.Add(testMarshal(f, prog))
	}
	f.Add([]byte{0x95, 0, 0, 0, 0, 0, 0, 0})
	calls := []ReleaseCall{{Call: KfuncCall(70001), CtxArgs: []int16{0, 16}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64*ebpfasm.InstructionSize {
			t.Skip("probe programs are a few instructions long")
		}
		out, err := ReleasingMarshalled(b, calls)
		if err != nil {
			return
		}
		if want := len(b) + 4*ebpfasm.InstructionSize; len(out) != want {
			t.Fatalf("%d bytes with the epilogue, want %d", len(out), want)
		}
		if !bytes.Equal(out[len(out)-16:], b[len(b)-16:]) {
			t.Fatalf("the program's r0 = imm; exit is not last: % x", out[len(out)-16:])
		}
	})
}

func testMarshal(t testing.TB, prog ebpfasm.Instructions) []byte {
	t.Helper()
	b, err := Marshal(prog)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
