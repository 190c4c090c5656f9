package probe

import (
	"slices"
	"strings"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
)

// This file holds how the argument pass answers a refusal: which value of the kind the verifier
// asked for it gives a register, and the maps, helpers and variants that value needs.

// Helper ids (uapi, never renumbered) whose results the argument pass passes on.
const (
	helperSkLookupTCP          = 84
	helperRingbufReserve       = 131
	helperGetCurrentTaskBTF    = 158
	helperDynptrFromMem        = 197
	helperRingbufReserveDynptr = 198
)

// skLookupTupleSize is sizeof(struct bpf_sock_tuple.ipv4): bpf_sk_lookup_tcp's tuple size.
const skLookupTupleSize = 12

// noSpinLockProgTypes may not use maps with a bpf_spin_lock: socket filters and tracing types.
var noSpinLockProgTypes = map[string]bool{
	"socket_filter": true, "kprobe": true, "tracepoint": true, "perf_event": true,
	"raw_tracepoint": true, "raw_tracepoint_writable": true, "tracing": true,
}

// argSizeValue is the length the pass gives a size argument the verifier refused as 0: small
// enough for every buffer it passes (asm.ArgStackBytes of stack, 64-byte map values).
const argSizeValue = 8

// skbSkOffset is offsetof(struct __sk_buff, sk), a socket pointer that may be NULL.
const skbSkOffset = 168

// skbProgTypes have a struct __sk_buff context whose sk field programs may read.
var skbProgTypes = map[string]bool{"sched_cls": true, "sched_act": true, "cgroup_skb": true}

// remedy gives register reg a value of the kind the complaint asks for, and reports whether it
// found one it has not tried.
func (a *argWalk) remedy(c verifierlog.Complaint, reg int) bool {
	s := &a.slots[reg-1]
	a.lastGiven = reg
	if s.tried == nil {
		s.tried = map[string]bool{}
	}
	s.switched = false
	switch c.Kind {
	case verifierlog.WrongType:
		if s.given == "" || s.expected == nil {
			s.expected = c.Expected
		}
		for _, choice := range a.choices(c.Expected) {
			if s.tried[choice] {
				continue
			}
			if a.give(s, choice) {
				return true
			}
		}
		return false
	case verifierlog.BadSize:
		if s.given == "" {
			s.expected = []string{"size"}
		}
		return a.give(s, "size")
	case verifierlog.WrongMapType:
		want, ok := helperMapTypes[a.name]
		return ok && s.mapType != want && a.giveMap(s, want)
	case verifierlog.WrongBTFType:
		s.btfType = c.Expected[0]
		switch s.btfType {
		case "task_struct":
			return !s.tried["task"] && a.give(s, "task")
		case "seq_file":
			return !s.tried["seq_file"] && a.give(s, "seq_file")
		}
		return a.giveBTFObject(s, s.btfType, false)
	case verifierlog.NeedsBTFField:
		typ, ok := btfFieldMaps[c.Got]
		return ok && s.mapValueType != typ && a.giveFieldMap(s, typ)
	case verifierlog.OtherArg:
		if c.Expected != nil {
			s.expected = c.Expected // narrower than the first complaint's list
		}
		var choice string
		switch {
		case c.Wants(verifierlog.WantsReference):
			choice = "sk_ref"
		case c.Wants(verifierlog.WantsDynptr):
			choice = "dynptr"
		case c.Wants(verifierlog.WantsAcquired) && slices.Contains(s.expected, "dynptr_ptr"), c.Wants(verifierlog.WantsRingbufDynptr):
			choice = "ringbuf_dynptr"
		case c.Wants(verifierlog.WantsMapValue):
			choice = "map_value"
		}
		if choice != "" && !s.tried[choice] {
			return a.give(s, choice)
		}
	}
	return false
}

// choices lists, in order of preference, what the pass can give a register the verifier wants
// one of expected in.
func (a *argWalk) choices(expected []string) []string {
	var out []string
	add := func(c string) {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	for _, e := range expected {
		switch {
		case e == "map_ptr" || e == "const_map_ptr":
			add("map")
		case e == "ctx":
			add("ctx")
		case e == "func":
			add("func")
		case e == "fp" || e == "map_key" || e == "rdonly_mem" || e == "buf":
			add("stack")
		case e == "percpu_ptr_":
			add("percpu_var")
		case e == "ringbuf_mem" || e == "alloc_mem":
			add("ringbuf_mem")
		case e == "mem":
			// 5.10 calls the ring buffer's memory "mem", which the stack is not.
			add("stack")
			add("ringbuf_mem")
		case e == "sock_common" || e == "sock" || e == "sock_or_null":
			add("sk")
		}
	}
	// Pointers that only a map value or a BTF object satisfies come last: a map value stands
	// for a constant string, a task for any trusted kernel object.
	for _, e := range expected {
		switch {
		case e == "map_value":
			add("const_str")
		case strings.HasSuffix(e, "ptr_") && e != "percpu_ptr_":
			add("task")
		}
	}
	return out
}

// give puts a value of kind choice in s, reporting false when the pass cannot make one here.
func (a *argWalk) give(s *argSlot, choice string) bool {
	s.tried[choice] = true
	switch choice {
	case "map":
		return a.giveMap(s, a.mapTypeWanted())
	case "size":
		if s.given == "size" {
			return false
		}
		s.value = bpfasm.ArgScalar(argSizeValue)
		s.given = "size"
		s.mapType = 0
		return true
	case "const_str":
		if !a.giveFieldMap(s, mapConstString) {
			return false
		}
		s.given = "const_str"
		return true
	case "map_value":
		return a.giveFieldMap(s, mapArray)
	case "task":
		if !a.useVariantOffering(helperGetCurrentTaskBTF) {
			// Before 5.11 no helper returns a BTF task: one from a context serves,
			// and the verifier then names the struct it wants if not a task.
			return a.giveBTFObject(s, "task_struct", true)
		}
	}
	value, ok := a.valueOf(choice)
	if !ok {
		return false
	}
	s.value, s.given = value, choice
	s.mapType, s.mapValueType = 0, 0
	return true
}

// mapTypeWanted is the type of map the helper takes: its own, or, for bpf_timer_init, the map
// its timer is in.
func (a *argWalk) mapTypeWanted() int {
	if typ, ok := helperMapTypes[a.name]; ok {
		return typ
	}
	typ := mapHash
	for _, o := range a.slots {
		if o.mapValueType != 0 && o.mapValueType != mapConstString {
			typ = o.mapValueType
		}
	}
	return typ
}

// valueOf builds a value of kind choice that needs no map value of its own, reporting false
// when the pass cannot make one here.
func (a *argWalk) valueOf(choice string) (bpfasm.ArgValue, bool) {
	switch choice {
	case "ctx":
		return bpfasm.ArgContext(), true
	case "func":
		return bpfasm.ArgSubprog(), true
	case "stack":
		return bpfasm.ArgStack(), true
	case "percpu_var":
		return bpfasm.ArgKernelVar(a.p.argFacts.percpuVar), a.p.argFacts.percpuVar != 0
	case "task": // give made sure the variant offers the helper
		return bpfasm.ArgHelperResult(helperGetCurrentTaskBTF), true
	case "ringbuf_mem":
		m, ok := a.mapOffering(mapRingbuf, helperRingbufReserve)
		return bpfasm.ArgHelperResult(helperRingbufReserve, m, bpfasm.ArgScalar(argSizeValue), bpfasm.ArgScalar(0)), ok
	case "dynptr":
		m, ok := a.mapOffering(mapArray, helperDynptrFromMem)
		return bpfasm.ArgDynptr(helperDynptrFromMem, m, bpfasm.ArgScalar(argSizeValue), bpfasm.ArgScalar(0)), ok
	case "ringbuf_dynptr":
		m, ok := a.mapOffering(mapRingbuf, helperRingbufReserveDynptr)
		return bpfasm.ArgDynptr(helperRingbufReserveDynptr, m, bpfasm.ArgScalar(argSizeValue), bpfasm.ArgScalar(0)), ok
	case "sk":
		ok := a.useVariant(func(v *variant) bool { return skbProgTypes[v.spec.progType] })
		return bpfasm.ArgContextField(skbSkOffset), ok
	case "sk_ref":
		ok := a.useVariantOffering(helperSkLookupTCP)
		return bpfasm.ArgHelperResult(helperSkLookupTCP, bpfasm.ArgContext(), bpfasm.ArgStack(),
			bpfasm.ArgScalar(skLookupTupleSize), bpfasm.ArgScalar(0), bpfasm.ArgScalar(0)), ok
	case "seq_file":
		// An iterator's context starts with its struct bpf_iter_meta *, which starts with
		// the struct seq_file * the iterator writes to.
		ok := a.useVariant(func(v *variant) bool { return strings.HasPrefix(v.spec.name, "iter") })
		return bpfasm.ArgContextField(0, 0), ok
	}
	return bpfasm.ArgValue{}, false
}

// mapOffering returns a map of type typ as the argument helper id takes it (a ringbuf's pointer,
// an array's value), in a variant that offers the helper; false when there is none.
func (a *argWalk) mapOffering(typ, id int) (bpfasm.ArgValue, bool) {
	fd, err := a.maps.fd(typ)
	if err != nil || !a.useVariantOffering(id) {
		return bpfasm.ArgValue{}, false
	}
	if typ == mapArray {
		return bpfasm.ArgMapValue(fd, 0), true
	}
	return bpfasm.ArgMapPtr(fd), true
}

// giveFieldMap puts a pointer to the value of the array map of type typ (mapConstString,
// mapSpinLock, ...) in s, in a variant that may use such a map.
func (a *argWalk) giveFieldMap(s *argSlot, typ int) bool {
	if typ == mapSpinLock && !a.useVariant(func(v *variant) bool { return !noSpinLockProgTypes[v.spec.progType] }) {
		return false
	}
	fd, err := a.maps.fd(typ)
	if err != nil {
		return false
	}
	s.value = bpfasm.ArgMapValue(fd, 0)
	s.given = "map_value:" + mapTypeNames[typ]
	s.mapType, s.mapValueType = 0, typ
	return true
}

// giveMap puts a map of type typ in s.
func (a *argWalk) giveMap(s *argSlot, typ int) bool {
	fd, err := a.maps.fd(typ)
	if err != nil {
		return false
	}
	s.value = bpfasm.ArgMapPtr(fd)
	s.given = "map"
	if typ != mapHash {
		s.given = "map:" + mapTypeNames[typ]
	}
	s.mapType, s.mapValueType = typ, 0
	return true
}

// useVariantOffering keeps the current variant when it offers helper id too, or switches to the
// first one that offers both; it reports false when none does.
func (a *argWalk) useVariantOffering(id int) bool {
	return a.useVariant(func(v *variant) bool { return a.offers(v, id) })
}

// useVariant keeps the current variant when ok accepts it, or switches to the first candidate
// that ok accepts.
func (a *argWalk) useVariant(ok func(*variant) bool) bool {
	if ok(a.v) {
		return true
	}
	for _, v := range a.cands {
		if ok(v) {
			a.v = v
			return true
		}
	}
	return false
}

// mapTypeNames names the map types the pass gives, as its records of given values spell them.
var mapTypeNames = map[int]string{
	mapHash: "hash", mapArray: "array", mapProgArray: "prog_array", mapPerfEventArray: "perf_event_array",
	mapPercpuArray: "percpu_array", mapStackTrace: "stack_trace", mapCgroupArray: "cgroup_array",
	mapDevmap: "devmap", mapSockmap: "sockmap", mapSockhash: "sockhash", mapCgroupStorage: "cgroup_storage",
	mapReuseportSockarr: "reuseport_sockarray", mapQueue: "queue", mapSkStorage: "sk_storage",
	mapRingbuf: "ringbuf", mapInodeStorage: "inode_storage", mapTaskStorage: "task_storage",
	mapUserRingbuf: "user_ringbuf", mapCgrpStorage: "cgrp_storage",
	mapConstString: "const_str", mapSpinLock: "spin_lock", mapTimer: "timer", mapKptr: "kptr",
}
