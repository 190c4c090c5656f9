package asm

import (
	"fmt"
	"strings"

	ebpfasm "github.com/cilium/ebpf/asm"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// CallFirstAvailable returns the call instruction for the first of names that the registry
// declares usable from progType on kernel, and that helper's entry. It is how a program prefers a
// newer helper and falls back to an older one: ("ktime_get_boot_ns", "ktime_get_ns") calls the
// first on 5.8 and later and the second before. A name the registry does not know is an error,
// not a candidate to skip, so that a typo cannot silently select the fallback; when no candidate
// fits, the error wraps ErrNoCompatibleHelper.
func CallFirstAvailable(reg *registry.Registry, progType string, kernel registry.Version, names ...string) (ebpfasm.Instruction, *registry.Helper, error) {
	if len(names) == 0 {
		return ebpfasm.Instruction{}, nil, fmt.Errorf("call first available: no candidate helpers given")
	}
	for _, n := range names {
		h, err := reg.Find(n)
		if err != nil {
			return ebpfasm.Instruction{}, nil, fmt.Errorf("call first available: %w", err)
		}
		ok, err := reg.Compatible(n, progType, kernel)
		if err != nil {
			return ebpfasm.Instruction{}, nil, fmt.Errorf("call first available: %w", err)
		}
		if ok {
			return callID(h.ID), h, nil
		}
	}
	return ebpfasm.Instruction{}, nil, fmt.Errorf("call first available: %w: none of %s is usable from %s on %s",
		ErrNoCompatibleHelper, strings.Join(names, ", "), progType, kernel)
}
