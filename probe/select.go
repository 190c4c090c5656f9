package probe

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// selectVariants returns the variant specs matching the selectors ("type" or "type/variant").
func selectVariants(selectors []string) ([]*variantSpec, error) {
	if len(selectors) == 0 {
		out := make([]*variantSpec, len(variantSpecs))
		for i := range variantSpecs {
			out[i] = &variantSpecs[i]
		}
		return out, nil
	}
	chosen := map[*variantSpec]bool{}
	var only []string // struct_ops kinds and members, checked against the kernel's (structops.go)
	for _, sel := range selectors {
		typ, name, hasName := strings.Cut(sel, "/")
		if _, ok := registry.ProgTypeID(typ); !ok {
			return nil, fmt.Errorf("%w: %q (known: %s)", registry.ErrUnknownProgType, typ, strings.Join(registry.ProgTypeNames(), ", "))
		}
		if typ == "struct_ops" && hasName && name != "" {
			only = append(only, name)
			name, hasName = "", false
		}
		found := false
		for i := range variantSpecs {
			s := &variantSpecs[i]
			if s.progType == typ && (!hasName || s.name == name) {
				chosen[s] = true
				found = true
			}
		}
		if !found {
			var known []string
			for _, s := range variantSpecs {
				if s.progType == typ {
					known = append(known, s.name)
				}
			}
			if hasName {
				return nil, fmt.Errorf("%w: %q (%s has %s)", ErrUnknownVariant, sel, typ, strings.Join(known, ", "))
			}
			return nil, fmt.Errorf("%w: %q has no probe variant", registry.ErrUnknownProgType, typ)
		}
	}
	var out []*variantSpec
	for i := range variantSpecs {
		s := &variantSpecs[i]
		if !chosen[s] {
			continue
		}
		if s.expand && len(only) > 0 && !slices.Contains(selectors, "struct_ops") {
			narrowed := *s
			narrowed.only = only
			s = &narrowed
		}
		out = append(out, s)
	}
	return out, nil
}

// CheckSelectors reports whether every selector ("type" or "type/variant") names a program type
// and variant the probe knows, so that a command can refuse a bad one before any guest boots.
func CheckSelectors(selectors []string) error {
	_, err := selectVariants(selectors)
	return err
}

// VariantNames returns every variant the probe knows as "prog_type/variant", in probe order.
// The struct_ops variants depend on the kernel's kinds: "struct_ops/struct_ops" stands for them
// all, and a selector "struct_ops/KIND" or "struct_ops/KIND.MEMBER" picks some.
func VariantNames() []string {
	out := make([]string, len(variantSpecs))
	for i, s := range variantSpecs {
		out[i] = s.progType + "/" + s.name
	}
	return out
}

// LastKnownID is the last helper id of the newest kernel bpfmatrix knows (7.3:
// cgrp_storage_delete, 211). A probe without a registry, as in the guest agent, still asks
// every id up to it and one past it, so that every kernel answers the same ids whatever the
// registry that is later judged against them holds.
const LastKnownID = 211

// selectIDs returns the helper ids to probe: the requested ones, or 1 up to one past the
// largest of LastKnownID, the registry's last id and the kernel's last helper (BTF's
// __BPF_FUNC_MAX_ID is one past it).
func (p *Prober) selectIDs(k *kernelBTF) []int {
	if len(p.opts.Helpers) > 0 {
		ids := slices.Clone(p.opts.Helpers)
		sort.Ints(ids)
		return slices.Compact(ids)
	}
	last := LastKnownID
	if p.reg != nil {
		for _, h := range p.reg.Helpers() {
			last = max(last, h.ID)
		}
	}
	last++
	if k != nil {
		last = max(last, k.maxID)
	}
	ids := make([]int, last)
	for i := range ids {
		ids[i] = i + 1
	}
	return ids
}
