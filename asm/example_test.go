package asm_test

import (
	"errors"
	"fmt"

	ebpfasm "github.com/cilium/ebpf/asm"

	"github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

func ExampleCall() {
	reg, err := registry.Default()
	if err != nil {
		panic(err)
	}
	call, err := asm.Call(reg, "bpf_ktime_get_ns")
	if err != nil {
		panic(err)
	}
	fmt.Println(call)

	// A misspelt name is an error, not a call to whatever id is there.
	_, err = asm.Call(reg, "ktime_get_nss")
	fmt.Println(errors.Is(err, registry.ErrUnknownHelper), err)
	// Output:
	// Call FnKtimeGetNs
	// true call ktime_get_nss: unknown helper: "ktime_get_nss"
}

func ExampleCallWithArgs() {
	reg, err := registry.Default()
	if err != nil {
		panic(err)
	}
	// bpf_probe_read_kernel(dst, size, unsafe_ptr): copy 8 bytes from the pointer the program
	// got in r1 to the buffer r6 points at. r1 is read before it is overwritten.
	insns, err := asm.CallWithArgs(reg, "probe_read_kernel", asm.Reg(ebpfasm.R6), asm.Imm(8), asm.Reg(ebpfasm.R1))
	if err != nil {
		panic(err)
	}
	for _, ins := range insns {
		fmt.Println(ins)
	}

	// The kernel would ignore an argument the prototype does not declare; it is refused here.
	_, err = asm.CallWithArgs(reg, "ktime_get_ns", asm.Imm(1))
	fmt.Println(errors.Is(err, asm.ErrTooManyArgs), err)
	// Output:
	// MovReg dst: r3 src: r1
	// MovReg dst: r1 src: r6
	// MovImm dst: r2 imm: 8
	// Call FnProbeReadKernel
	// true call bpf_ktime_get_ns: too many helper arguments: 1 given, the prototype declares 0
}

func ExampleLoadArgs() {
	// r1 and r2 swap places, which takes a scratch register (r0, which the call overwrites
	// anyway); a constant wider than 32 bits needs a 64-bit load.
	insns, err := asm.LoadArgs(asm.Reg(ebpfasm.R2), asm.Reg(ebpfasm.R1), asm.Imm(1<<40))
	if err != nil {
		panic(err)
	}
	// Add the call of a helper the registry need not know, from cilium/ebpf's list.
	insns = append(insns, ebpfasm.FnTracePrintk.Call())
	for _, ins := range insns {
		fmt.Println(ins)
	}
	// Output:
	// MovReg dst: r0 src: r1
	// MovReg dst: r1 src: r2
	// MovReg dst: r2 src: r0
	// LdImmDW dst: r3 imm: 1099511627776
	// Call FnTracePrintk
}

func ExampleCallFirstAvailable() {
	reg, err := registry.Default()
	if err != nil {
		panic(err)
	}
	// Prefer the clock that keeps counting during suspend (5.8) and fall back to the
	// monotonic one on older kernels.
	for _, kernel := range []string{"5.4", "6.1"} {
		call, h, err := asm.CallFirstAvailable(reg, "kprobe", registry.MustParseVersion(kernel), "ktime_get_boot_ns", "ktime_get_ns")
		if err != nil {
			panic(err)
		}
		fmt.Println(kernel, h.CName(), call)
	}

	// Without a fallback, an older kernel has no helper to offer.
	_, _, err = asm.CallFirstAvailable(reg, "kprobe", registry.MustParseVersion("5.4"), "ktime_get_boot_ns")
	fmt.Println(errors.Is(err, asm.ErrNoCompatibleHelper), err)
	// Output:
	// 5.4 bpf_ktime_get_ns Call FnKtimeGetNs
	// 6.1 bpf_ktime_get_boot_ns Call FnKtimeGetBootNs
	// true call first available: no compatible helper: none of ktime_get_boot_ns is usable from kprobe on 5.4
}

func ExampleArg_String() {
	fmt.Println(asm.Imm(8), asm.Reg(ebpfasm.R6), asm.Reg(ebpfasm.R10))
	// Output:
	// 8 r6 rfp
}
