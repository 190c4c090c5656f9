package probe

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	ebpfasm "github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// argLoadBudget bounds the loads spent walking one helper's arguments: each load gets past at
// most one argument (five), some need a second try (a map of another type, a size after a
// pointer), and a helper that needs more is one the probe cannot give what it wants.
const argLoadBudget = 12

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

// argSlot is what the pass knows and gives for one argument register.
type argSlot struct {
	value    bpfasm.ArgValue
	given    string // "" while the register holds its first value, 0
	expected []string
	btfType  string
	tried    map[string]bool
	mapType  int // the map type given, when given is a map
	// mapValueType is the map type whose value is given, when given points into one.
	mapValueType int
}

// argWalk is the state of one helper's argument walk.
type argWalk struct {
	p     *Prober
	l     *loader
	maps  *argMaps
	id    int
	name  string
	cands []*variant // variants that offer the helper, no-target ones first
	v     *variant
	slots [bpfasm.MaxArgs]argSlot
	loads int
	// lastGiven is the register given a value last, 0 before any.
	lastGiven int
	offers    func(v *variant, id int) bool
}

// HelperArgs returns what the verifier expects of each argument of each helper the kernel offers
// somewhere, as learnt by the last Run (in helper id order); nil before a Run. The same list is
// in Facts().HelperArgs after a Run, but not in the Facts New returned: a caller that sends the
// facts before the results must send this after them.
func (p *Prober) HelperArgs() []observation.HelperArgs { return p.facts.HelperArgs }

// argFacts is what the argument pass needs from the kernel's BTF, read in New.
type argFacts struct {
	// percpuVar is the BTF id of a per-CPU kernel variable, for per-CPU pointer arguments
	// (bpf_this_cpu_ptr, bpf_per_cpu_ptr); 0 when the kernel's BTF has none of the candidates.
	percpuVar uint32
}

// percpuVarNames are per-CPU variables every x86-64 and arm64 kernel has in its BTF (pahole
// describes only per-CPU variables).
var percpuVarNames = []string{"bpf_prog_active", "runqueues", "process_counts"}

func readArgFacts(k *kernelBTF) argFacts {
	var f argFacts
	if k == nil {
		return f
	}
	for _, name := range percpuVarNames {
		if id, _, ok := typeID[*btf.Var](k, name); ok {
			f.percpuVar = uint32(id)
			break
		}
	}
	return f
}

// helperArgsPass walks the arguments of every helper some variant offers, after the main probe
// answered which variants do (pairs), and records the answers in p.facts.HelperArgs.
func (p *Prober) helperArgsPass(ctx context.Context, pairs []pair) {
	start := time.Now()
	defer func() { p.stats.ArgDuration = time.Since(start) }()
	offered := map[[2]int]bool{} // (variant index, id)
	index := map[*variant]int{}
	for i, v := range p.variants {
		index[v] = i
	}
	byID := map[int][]*variant{}
	for i := range pairs {
		pr := &pairs[i]
		if pr.result.Outcome != observation.Supported && pr.result.Outcome != observation.GPLOnly {
			continue
		}
		if !pr.v.info.Usable || pr.v.spec.target == targetExt {
			// An ext program's func_info describes one function: it cannot carry the
			// callback subprogram some arguments need. ext offers what XDP offers.
			continue
		}
		offered[[2]int{index[pr.v], pr.id}] = true
		byID[pr.id] = append(byID[pr.id], pr.v)
	}
	// The values some arguments need come from other helpers (a task from
	// bpf_get_current_task_btf, a socket from bpf_sk_lookup_tcp): whether a variant offers
	// one is in the run's answers, unless the run's ids left it out; then one load asks.
	asked := map[int]bool{}
	for _, id := range p.ids {
		asked[id] = true
	}
	var offersMu sync.Mutex
	extraLoads := 0
	offers := func(v *variant, id int) bool {
		key := [2]int{index[v], id}
		offersMu.Lock()
		defer offersMu.Unlock()
		if ok, known := offered[key]; known || asked[id] {
			return ok
		}
		insns, err := bpfasm.Marshal(bpfasm.ProbeProgramReturning(id, v.spec.ret))
		if err != nil {
			return false
		}
		res := newLoader(p.logSize).load(&v.prog, insns, true)
		extraLoads++
		outcome, _ := Classify(res.errno, res.log)
		offered[key] = outcome == observation.Supported
		return offered[key]
	}
	var ids []int
	for id, vs := range byID {
		ids = append(ids, id)
		slices.SortStableFunc(vs, func(a, b *variant) int {
			return boolInt(a.spec.target != noTarget) - boolInt(b.spec.target != noTarget)
		})
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		p.facts.HelperArgs = []observation.HelperArgs{}
		return
	}

	maps := newArgMaps()
	defer maps.Close()
	out := make([]observation.HelperArgs, len(ids))
	workers := min(p.opts.Workers, len(ids))
	loaders := make([]*loader, workers)
	var next sync.Mutex
	n := 0
	var wg sync.WaitGroup
	for w := range workers {
		l := newLoader(p.logSize)
		loaders[w] = l
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				next.Lock()
				i := n
				n++
				next.Unlock()
				if i >= len(ids) {
					return
				}
				id := ids[i]
				a := &argWalk{p: p, l: l, maps: maps, id: id, name: p.helperName(id), cands: byID[id], offers: offers}
				out[i] = a.walk()
			}
		}()
	}
	wg.Wait()
	before := p.stats.Loads
	for _, l := range loaders {
		p.addStats(l)
	}
	p.stats.Loads += extraLoads
	p.stats.ArgLoads = p.stats.Loads - before
	p.facts.HelperArgs = out
	complete := 0
	for _, h := range out {
		if h.Complete {
			complete++
		}
	}
	fmt.Fprintf(p.opts.Log, "probe: argument kinds of %d helpers (%d complete) in %d loads, %v\n",
		len(out), complete, p.stats.ArgLoads, time.Since(start).Round(time.Millisecond))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// helperName is the helper's name without bpf_, from the registry or the kernel's BTF.
func (p *Prober) helperName(id int) string {
	if p.reg != nil {
		if h, ok := p.reg.ByID(id); ok {
			return h.Name
		}
	}
	return p.btfNames[id]
}

// argCount is the number of arguments the kernel's BPF_CALL wrapper or the registry gives the
// helper, 0 when neither knows.
func (p *Prober) argCount(id int) int {
	n := 0
	for _, h := range p.facts.BTFHelpers {
		if h.ID == id && h.Wrapper {
			n = len(h.Args)
		}
	}
	if p.reg != nil {
		if h, ok := p.reg.ByID(id); ok {
			n = max(n, len(h.Signature.Args))
		}
	}
	return min(n, bpfasm.MaxArgs)
}

// load loads the helper's call with the slots' current values in the current variant.
func (a *argWalk) load() (loadResult, int, error) {
	args := make([]bpfasm.ArgValue, bpfasm.MaxArgs)
	for i := range a.slots {
		args[i] = a.slots[i].value
	}
	insns, err := bpfasm.ArgProbeProgram(a.id, a.v.spec.ret, args)
	if err != nil {
		return loadResult{}, 0, err
	}
	callAt, callbackAt := offsets(insns)
	b, err := bpfasm.Marshal(insns)
	if err != nil {
		return loadResult{}, 0, err
	}
	prog := a.v.prog
	if callbackAt >= 0 {
		// A program with a subprogram the kernel calls back must describe its functions
		// with BTF func info.
		h, mainID, cbID, err := a.maps.progBTF()
		if err != nil {
			return loadResult{}, 0, err
		}
		info := make([]byte, 2*funcInfoRecSize)
		binary.NativeEndian.PutUint32(info[4:], uint32(mainID))
		binary.NativeEndian.PutUint32(info[8:], uint32(callbackAt))
		binary.NativeEndian.PutUint32(info[12:], uint32(cbID))
		prog.btfFD, prog.funcInfo = uint32(h.FD()), info
	}
	a.loads++
	return a.l.load(&prog, b, true), callAt, nil
}

// offsets returns the raw offsets of the probed call (the instruction before the probe's "out"
// label) and of the callback subprogram (-1 when there is none).
func offsets(insns ebpfasm.Instructions) (call, callback int) {
	call, callback = -1, -1
	it := insns.Iterate()
	for it.Next() {
		switch it.Ins.Symbol() {
		case "argprobe_out":
			call = int(it.Offset) - 1
		case bpfasm.ArgProbeCallback:
			callback = int(it.Offset)
		}
	}
	return call, callback
}

// walk loads the helper's call again and again, each time giving the argument the verifier
// refused a value of the kind it asked for.
func (a *argWalk) walk() observation.HelperArgs {
	a.v = a.cands[0]
	out := observation.HelperArgs{HelperID: a.id}
	failedReg := 0
	var detail string
	complete := false
	seen := map[string]bool{}
	for {
		if a.loads >= argLoadBudget {
			detail = fmt.Sprintf("gave up after %d loads: %s", a.loads, detail)
			break
		}
		res, callAt, err := a.load()
		if err != nil {
			detail = err.Error()
			break
		}
		if res.errno == 0 {
			complete, detail = true, ""
			break
		}
		c := parseComplaint(res.log)
		detail = c.line
		if detail == "" {
			_, detail = Classify(res.errno, res.log)
		}
		if at := lastInsn(res.log); at < callAt {
			// Refused before the call was reached, or before any instruction was walked
			// ("ldimm64 failed to find the address for kernel symbol ..."): the values the
			// probe computes or names were refused, not the helper's arguments.
			detail = "the probe's own setup was refused: " + detail
			break
		}
		reg := c.reg
		if c.kind == notAboutArg {
			if lastInsn(res.log) != callAt {
				complete = true // past the call: its effects, the return, a reference
				break
			}
			// Refused at the call without naming a register ("map 'x' has to have BTF in
			// order to use bpf_timer"): about the value given last, which will not do.
			failedReg = max(failedReg, a.lastGiven)
			break
		}
		switch c.kind {
		case wrongMapType:
			reg = a.mapSlot()
		case needsBTFField:
			reg = a.lastGiven
		}
		if reg == 0 {
			break
		}
		failedReg = max(failedReg, reg)
		key := fmt.Sprint(reg, c.line, a.state())
		if seen[key] {
			break // the same refusal of the same program: no progress
		}
		seen[key] = true
		if !a.remedy(c, reg) {
			break
		}
	}

	n := a.p.argCount(a.id)
	for i, s := range a.slots {
		if s.given != "" {
			n = max(n, i+1)
		}
	}
	if !complete {
		n = max(failedReg, 0)
		for i, s := range a.slots {
			if s.given != "" || s.expected != nil {
				n = max(n, i+1)
			}
		}
	}
	if complete {
		limit := n
		if !a.p.hasWrapper(a.id) {
			// Without a BPF_CALL wrapper the kernel's BTF does not say how many arguments
			// the helper takes: a register that names kinds for a map pointer is one.
			limit = bpfasm.MaxArgs
		}
		n = a.nullProbes(n, limit)
	}
	out.Variant = a.v.spec.progType + "/" + a.v.spec.name
	out.Complete = complete
	out.Detail = detail
	out.Args = make([]observation.ArgKind, n)
	for i := range n {
		s := a.slots[i]
		k := observation.ArgKind{Expected: s.expected, Given: s.given, BTFType: s.btfType}
		if k.Given == "" && k.Expected == nil {
			k.Given, k.Expected = "scalar", []string{"scalar"}
		}
		out.Args[i] = k
	}
	return out
}

// state renders what the slots hold, to notice a refusal repeated for the same program.
func (a *argWalk) state() string {
	var b strings.Builder
	b.WriteString(a.v.spec.name)
	for _, s := range a.slots {
		b.WriteString("|" + s.value.String())
	}
	return b.String()
}

// mapSlot is the register holding the map the verifier refused, 0 when none holds one.
func (a *argWalk) mapSlot() int {
	for i, s := range a.slots {
		if s.mapType != 0 {
			return i + 1
		}
	}
	return 0
}

// remedy gives register reg a value of the kind the complaint asks for, and reports whether it
// found one it has not tried.
func (a *argWalk) remedy(c complaint, reg int) bool {
	s := &a.slots[reg-1]
	a.lastGiven = reg
	if s.tried == nil {
		s.tried = map[string]bool{}
	}
	switch c.kind {
	case wrongType:
		if s.given == "" || s.expected == nil {
			s.expected = c.expected
		}
		for _, choice := range a.choices(c.expected) {
			if s.tried[choice] {
				continue
			}
			if a.give(s, choice) {
				return true
			}
		}
		return false
	case badSize:
		if s.given == "" {
			s.expected = []string{"size"}
		}
		return a.give(s, "size")
	case wrongMapType:
		want, ok := helperMapTypes[a.name]
		if !ok || s.mapType == want {
			return false
		}
		return a.giveMap(s, want)
	case wrongBTFType:
		s.btfType = c.expected[0]
		switch s.btfType {
		case "task_struct":
			return !s.tried["task"] && a.give(s, "task")
		case "seq_file":
			return !s.tried["seq_file"] && a.give(s, "seq_file")
		}
		return false
	case needsBTFField:
		typ, ok := btfFieldMaps[c.got]
		if !ok || s.mapValueType == typ {
			return false
		}
		return a.giveFieldMap(s, typ)
	case otherArg:
		if c.expected != nil {
			s.expected = c.expected // narrower than the first complaint's list
		}
		var choice string
		switch {
		case strings.Contains(c.line, "must be referenced"):
			choice = "sk_ref"
		case strings.HasPrefix(c.line, "Expected an initialized dynptr"):
			choice = "dynptr"
		case strings.Contains(c.line, "is an unacquired reference") && slices.Contains(s.expected, "dynptr_ptr"):
			choice = "ringbuf_dynptr"
		case dynptrDataRE.MatchString(c.line):
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
		case e == "fp" || e == "map_key" || e == "mem" || e == "rdonly_mem" || e == "buf":
			add("stack")
		case e == "percpu_ptr_":
			add("percpu_var")
		case e == "ringbuf_mem" || e == "alloc_mem":
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
		typ, ok := helperMapTypes[a.name]
		if !ok {
			// bpf_timer_init wants the map its timer is in.
			typ = mapHash
			for _, o := range a.slots {
				if o.mapValueType != 0 && o.mapValueType != mapConstString {
					typ = o.mapValueType
				}
			}
		}
		return a.giveMap(s, typ)
	case "ctx":
		s.value = bpfasm.ArgContext()
	case "func":
		s.value = bpfasm.ArgSubprog()
	case "stack":
		s.value = bpfasm.ArgStack()
	case "size":
		if s.given == "size" {
			return false
		}
		s.value = bpfasm.ArgScalar(argSizeValue)
		s.given = "size"
		s.mapType = 0
		return true
	case "percpu_var":
		if a.p.argFacts.percpuVar == 0 {
			return false
		}
		s.value = bpfasm.ArgKernelVar(a.p.argFacts.percpuVar)
	case "const_str":
		if !a.giveFieldMap(s, mapConstString) {
			return false
		}
		s.given = "const_str"
		return true
	case "ringbuf_mem":
		fd, err := a.maps.fd(mapRingbuf)
		if err != nil || !a.useVariantOffering(helperRingbufReserve) {
			return false
		}
		s.value = bpfasm.ArgHelperResult(helperRingbufReserve, bpfasm.ArgMapPtr(fd), bpfasm.ArgScalar(argSizeValue), bpfasm.ArgScalar(0))
	case "task":
		if !a.useVariantOffering(helperGetCurrentTaskBTF) {
			return false
		}
		s.value = bpfasm.ArgHelperResult(helperGetCurrentTaskBTF)
	case "sk":
		if !a.useVariant(func(v *variant) bool { return skbProgTypes[v.spec.progType] }) {
			return false
		}
		s.value = bpfasm.ArgContextField(skbSkOffset)
	case "map_value":
		if !a.giveFieldMap(s, mapArray) {
			return false
		}
		s.tried[choice] = true
		return true
	case "dynptr":
		fd, err := a.maps.fd(mapArray)
		if err != nil || !a.useVariantOffering(helperDynptrFromMem) {
			return false
		}
		s.value = bpfasm.ArgDynptr(helperDynptrFromMem, bpfasm.ArgMapValue(fd, 0), bpfasm.ArgScalar(argSizeValue), bpfasm.ArgScalar(0))
	case "ringbuf_dynptr":
		fd, err := a.maps.fd(mapRingbuf)
		if err != nil || !a.useVariantOffering(helperRingbufReserveDynptr) {
			return false
		}
		s.value = bpfasm.ArgDynptr(helperRingbufReserveDynptr, bpfasm.ArgMapPtr(fd), bpfasm.ArgScalar(argSizeValue), bpfasm.ArgScalar(0))
	case "sk_ref":
		if !a.useVariantOffering(helperSkLookupTCP) {
			return false
		}
		s.value = bpfasm.ArgHelperResult(helperSkLookupTCP, bpfasm.ArgContext(), bpfasm.ArgStack(),
			bpfasm.ArgScalar(skLookupTupleSize), bpfasm.ArgScalar(0), bpfasm.ArgScalar(0))
	case "seq_file":
		// An iterator's context starts with its struct bpf_iter_meta *, which starts with
		// the struct seq_file * the iterator writes to.
		if !a.useVariant(func(v *variant) bool { return strings.HasPrefix(v.spec.name, "iter") }) {
			return false
		}
		s.value = bpfasm.ArgContextField(0, 0)
	default:
		return false
	}
	s.given = choice
	s.mapType, s.mapValueType = 0, 0
	return true
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

// nullProbes asks, for every register below limit the verifier accepted as 0, whether it is a
// pointer that may be NULL: a map pointer in its place is accepted as anything by a plain number
// argument (root may pass pointers as numbers) and by an unused register, but refused by a
// pointer argument, which names its kinds, and by a length, which wants a scalar. It returns n,
// the number of arguments, raised to the last register found to be one.
func (a *argWalk) nullProbes(n, limit int) int {
	fd, err := a.maps.fd(mapHash)
	if err != nil {
		return n
	}
	for i := range limit {
		s := &a.slots[i]
		if s.given != "" || a.loads >= argLoadBudget+bpfasm.MaxArgs {
			continue
		}
		s.value = bpfasm.ArgMapPtr(fd)
		res, _, err := a.load()
		s.value = bpfasm.ArgValue{}
		if err != nil || res.errno == 0 {
			continue
		}
		c := parseComplaint(res.log)
		if c.kind != wrongType || c.reg != i+1 || c.got != "map_ptr" {
			continue
		}
		n = max(n, i+1)
		if !slices.Equal(c.expected, []string{"scalar"}) {
			s.expected, s.given = c.expected, "null"
		}
	}
	return n
}

// hasWrapper reports whether the kernel's BTF has the helper's BPF_CALL wrapper, whose
// prototype gives the number of arguments.
func (p *Prober) hasWrapper(id int) bool {
	for _, h := range p.facts.BTFHelpers {
		if h.ID == id {
			return h.Wrapper
		}
	}
	return false
}

var mapTypeNames = map[int]string{
	mapHash: "hash", mapArray: "array", mapProgArray: "prog_array", mapPerfEventArray: "perf_event_array",
	mapPercpuArray: "percpu_array", mapStackTrace: "stack_trace", mapCgroupArray: "cgroup_array",
	mapDevmap: "devmap", mapSockmap: "sockmap", mapSockhash: "sockhash", mapCgroupStorage: "cgroup_storage",
	mapReuseportSockarr: "reuseport_sockarray", mapQueue: "queue", mapSkStorage: "sk_storage",
	mapRingbuf: "ringbuf", mapInodeStorage: "inode_storage", mapTaskStorage: "task_storage",
	mapUserRingbuf: "user_ringbuf", mapCgrpStorage: "cgrp_storage",
	mapConstString: "const_str", mapSpinLock: "spin_lock", mapTimer: "timer", mapKptr: "kptr",
}
