package probe

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
	ebpfasm "github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// argLoadBudget bounds the loads spent walking one helper's arguments: each load gets past at
// most one argument (five), some need a second try (a map of another type, a size after a
// pointer), and a helper that needs more is one the probe cannot give what it wants.
const argLoadBudget = 12

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
	// unset leaves the register without a value: the verifier then says "R<n> !read_ok"
	// when it checks the register as an argument, and nothing when the helper ignores it.
	unset bool
	// switched is set when giving the value moved the walk to another variant, whose
	// refusal of the helper itself asks for the value's next source (retryElsewhere); home
	// is the variant the walk was in before, and objWant and objOthers what giveBTFObject
	// was asked for.
	switched  bool
	home      string
	objWant   string
	objOthers bool
}

// argWalk is the state of one helper's argument walk.
type argWalk struct {
	p     *Prober
	l     *loader
	maps  *argMaps
	vars  *argVariants
	id    int
	name  string
	cands []*variant // variants that offer the helper, no-target ones first
	v     *variant
	slots [bpfasm.MaxArgs]argSlot
	loads int
	// lastGiven is the register given a value last, 0 before any.
	lastGiven int
	offers    func(v *variant, id int) bool
	// messagesOnly lets load ask for the verifier's messages alone where they say enough;
	// an exhaustive probe, the reference a planned one is held to, reads every full log.
	messagesOnly bool
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
	// btfObjects are the attach targets whose context arguments give pointers to kernel
	// structs no helper returns (args_btfobj.go).
	btfObjects []btfObject
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
	f.btfObjects = resolveBTFObjects(k)
	return f
}

// helperArgsPass walks the arguments of every helper some variant offers, after the main probe
// answered which variants do (pairs), and records the answers in p.facts.HelperArgs.
func (p *Prober) helperArgsPass(ctx context.Context, pairs []pair) {
	start := time.Now()
	defer func() { p.stats.ArgDuration = time.Since(start) }()
	offers, byID := p.helperOffers(pairs)
	ids := sortedHelperIDs(byID)
	if len(ids) == 0 {
		p.facts.HelperArgs = []observation.HelperArgs{}
		return
	}

	maps := newArgMaps()
	defer maps.Close()
	out, loaders := p.walkHelpers(ctx, ids, byID, &argShared{maps: maps, vars: newArgVariants()}, offers.offers)
	before := p.stats.Loads
	for _, l := range loaders {
		p.addStats(l)
	}
	p.stats.Loads += offers.extraLoads
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

// variantOffers answers whether a variant offers a helper, for the helpers whose results some
// arguments need (a task from bpf_get_current_task_btf, a socket from bpf_sk_lookup_tcp).
type variantOffers struct {
	mu      sync.Mutex
	offered map[[2]int]bool // (variant index, id)
	index   map[*variant]int
	// asked holds the run's ids: whether a variant offers one of them is in the run's answers.
	asked      map[int]bool
	logSize    int
	extraLoads int
}

// helperOffers collects the usable variants that offer each helper (byID, in the order pairs
// gives them) and what answers whether a variant offers a helper.
func (p *Prober) helperOffers(pairs []pair) (*variantOffers, map[int][]*variant) {
	o := &variantOffers{offered: map[[2]int]bool{}, index: map[*variant]int{}, asked: map[int]bool{}, logSize: p.logSize}
	for i, v := range p.variants {
		o.index[v] = i
	}
	byID := map[int][]*variant{}
	for i := range pairs {
		pr := &pairs[i]
		if pr.result.Outcome != observation.Supported && pr.result.Outcome != observation.GPLOnly {
			continue
		}
		if !pr.v.info.Usable || pr.v.spec.target == targetExt || pr.v.release != nil {
			// An ext program's func_info describes one function: it cannot carry the
			// callback subprogram some arguments need. ext offers what XDP offers. A
			// variant with a release epilogue (release.go) takes it on probe programs only.
			continue
		}
		o.offered[[2]int{o.index[pr.v], pr.id}] = true
		byID[pr.id] = append(byID[pr.id], pr.v)
	}
	for _, id := range p.ids {
		o.asked[id] = true
	}
	return o, byID
}

// offers reports whether v offers helper id: from the run's answers, or, when the run's ids left
// the helper out, from one load that asks.
func (o *variantOffers) offers(v *variant, id int) bool {
	key := [2]int{o.index[v], id}
	o.mu.Lock()
	defer o.mu.Unlock()
	if ok, known := o.offered[key]; known || o.asked[id] {
		return ok
	}
	insns, err := bpfasm.Marshal(bpfasm.ProbeProgramReturning(id, v.spec.ret))
	if err != nil {
		return false
	}
	res := newLoader(o.logSize).load(&v.prog, insns, true)
	o.extraLoads++
	outcome, _ := Classify(res.errno, res.log)
	o.offered[key] = outcome == observation.Supported
	return o.offered[key]
}

// sortedHelperIDs returns byID's helper ids in order, and puts each helper's no-target variants
// first: they need nothing attached, so they are the ones to try first.
func sortedHelperIDs(byID map[int][]*variant) []int {
	var ids []int
	for id, vs := range byID {
		ids = append(ids, id)
		slices.SortStableFunc(vs, func(a, b *variant) int {
			return boolInt(a.spec.target != noTarget) - boolInt(b.spec.target != noTarget)
		})
	}
	slices.Sort(ids)
	return ids
}

// argShared is what the walkers of one pass share: the maps they pass and the variants with
// attach targets of their own.
type argShared struct {
	maps *argMaps
	vars *argVariants
}

// walkHelpers walks the helpers' arguments on p.opts.Workers loaders at once and returns the
// answers in ids' order, with the loaders whose counts the caller adds to the stats.
func (p *Prober) walkHelpers(ctx context.Context, ids []int, byID map[int][]*variant, sh *argShared,
	offers func(v *variant, id int) bool) ([]observation.HelperArgs, []*loader) {
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
				out[i] = p.walkHelper(l, sh, id, byID[id], offers)
			}
		}()
	}
	wg.Wait()
	return out, loaders
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

// load loads the helper's call with the slots' current values in the current variant. It
// returns what the kernel said, the raw offset of the probed call and that of the instruction
// the verifier refused (-1 when it refused before walking one). A straight program without a
// callback is loaded for the verifier's messages alone when a.messagesOnly is set: the
// statistics line's count of processed instructions then says where it was refused, which
// otherwise takes formatting and reading the full trace (the pass's most expensive part).
func (a *argWalk) load() (loadResult, int, int, error) {
	args := make([]bpfasm.ArgValue, bpfasm.MaxArgs)
	var unset []int
	for i := range a.slots {
		args[i] = a.slots[i].value
		if a.slots[i].unset {
			unset = append(unset, i+1)
		}
	}
	insns, err := bpfasm.ArgProbeProgram(a.id, a.v.spec.ret, args)
	if err != nil {
		return loadResult{}, 0, 0, err
	}
	if len(unset) > 0 {
		if insns, err = unsetArgs(insns, unset); err != nil {
			return loadResult{}, 0, 0, err
		}
	}
	callAt, callbackAt := offsets(insns)
	b, err := bpfasm.Marshal(insns)
	if err != nil {
		return loadResult{}, 0, 0, err
	}
	prog := a.v.prog
	if callbackAt >= 0 {
		// A program with a subprogram the kernel calls back must describe its functions
		// with BTF func info.
		h, mainID, cbID, err := a.maps.progBTF()
		if err != nil {
			return loadResult{}, 0, 0, err
		}
		info := make([]byte, 2*funcInfoRecSize)
		binary.NativeEndian.PutUint32(info[4:], uint32(mainID))
		binary.NativeEndian.PutUint32(info[8:], uint32(callbackAt))
		binary.NativeEndian.PutUint32(info[12:], uint32(cbID))
		prog.btfFD, prog.funcInfo = uint32(h.FD()), info
	}
	a.loads++
	if a.messagesOnly && callbackAt < 0 {
		if steps, ok := straightSteps(insns, callAt); ok {
			res := a.l.loadAtLevel(logMessages, &prog, b, true)
			if at, ok := refusedAt(res.log, steps, callAt); ok || res.errno == 0 {
				return res, callAt, at, nil
			}
			// No statistics line to count with: the full log below says where.
		}
	}
	res := a.l.loadAtLevel(logInstructions, &prog, b, true)
	return res, callAt, verifierlog.LastInsn(res.log), nil
}

// straightSteps returns the raw offset of each instruction the verifier walks, in order, up to
// and including the probed call at callAt, and false when the program can jump before it: then
// the instructions walked are not the program's in order.
func straightSteps(insns ebpfasm.Instructions, callAt int) ([]int, bool) {
	var steps []int
	it := insns.Iterate()
	for it.Next() && int(it.Offset) <= callAt {
		op := it.Ins.OpCode
		if int(it.Offset) < callAt && op.Class().IsJump() && op.JumpOp() != ebpfasm.Call {
			return nil, false
		}
		steps = append(steps, int(it.Offset))
	}
	return steps, len(steps) > 0 && steps[len(steps)-1] == callAt
}

// refusedAt reads from a refused load's statistics line where a straight program (steps, see
// straightSteps) was refused, as LastInsn reads it from the full log's trace: the raw offset of
// the refused instruction up to the call, -1 before the first, and past callAt for any
// instruction after the call. The verifier counts an instruction as processed before it checks
// it, so N processed means the N-th step was refused. False when the log has no statistics line.
func refusedAt(log string, steps []int, callAt int) (int, bool) {
	n, ok := verifierlog.Processed(log)
	switch {
	case !ok:
		return 0, false
	case n == 0:
		return -1, true
	case n <= len(steps):
		return steps[n-1], true
	}
	return callAt + 1, true
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

// maxRewalks bounds the further variants a helper's arguments are walked in when the first
// checks fewer arguments than the kernel's BPF_CALL wrapper has.
const maxRewalks = 2

// maxHelperLoads bounds the loads of one helper's argument pass: each walk spends at most its
// budget and probeUntouched's.
const maxHelperLoads = (argLoadBudget + untouchedBudget) * (1 + maxRewalks)

// walkHelper walks one helper's arguments in the first variant that offers it. Where that
// variant checks fewer arguments than the helper's BPF_CALL wrapper has, it gives the helper
// another prototype (bpf_get_cgroup_classid of the current task in a socket filter, of the
// packet in tc): the walk is repeated in variants of other program types, and the answer with
// the most arguments kept.
func (p *Prober) walkHelper(l *loader, sh *argShared, id int, cands []*variant, offers func(v *variant, id int) bool) observation.HelperArgs {
	walk := func(v *variant) observation.HelperArgs {
		a := &argWalk{p: p, l: l, maps: sh.maps, vars: sh.vars, id: id, name: p.helperName(id), cands: cands, offers: offers,
			messagesOnly: !p.opts.Exhaustive}
		return a.walk(v)
	}
	out := walk(cands[0])
	want := p.argCount(id)
	walked := map[string]bool{cands[0].spec.progType: true}
	rewalks := 0
	for _, v := range cands[1:] {
		if !out.Complete || len(out.Args) >= want || rewalks >= maxRewalks {
			break
		}
		if walked[v.spec.progType] {
			continue
		}
		walked[v.spec.progType] = true
		rewalks++
		if o := walk(v); o.Complete && len(o.Args) > len(out.Args) {
			out = o
		}
	}
	return out
}

// walk loads the helper's call in v again and again, each time giving the argument the verifier
// refused a value of the kind it asked for, and then asks about the registers it left at 0.
func (a *argWalk) walk(v *variant) observation.HelperArgs {
	a.v = v
	complete, failedReg, detail := a.refine()
	n := a.argsFound(complete, failedReg)
	out := observation.HelperArgs{HelperID: a.id}
	out.Variant = a.variantName()
	out.Complete = complete
	out.Detail = detail
	out.Args = make([]observation.ArgKind, n)
	for i := range n {
		s := a.slots[i]
		out.Args[i] = observation.ArgKind{Expected: s.expected, Given: s.given, BTFType: s.btfType}
	}
	return out
}

// variantName names the variant the walk ended in as "prog_type/variant", followed by
// ":target" when the walk chose the attach target itself.
func (a *argWalk) variantName() string {
	name := a.v.spec.progType + "/" + a.v.spec.name
	if !slices.Contains(a.p.variants, a.v) {
		name += ":" + a.v.info.Target
	}
	return name
}

// refine loads and remedies until the verifier accepts the call (complete), refuses something
// the pass cannot remedy, or the load budget runs out. It returns the highest register refused
// and why the walk stopped short ("" when complete).
func (a *argWalk) refine() (complete bool, failedReg int, detail string) {
	seen := map[string]bool{}
	for {
		if a.loads >= argLoadBudget {
			return false, failedReg, fmt.Sprintf("gave up after %d loads: %s", a.loads, detail)
		}
		res, callAt, at, err := a.load()
		if err != nil {
			return false, failedReg, err.Error()
		}
		if res.errno == 0 {
			return true, failedReg, ""
		}
		c := verifierlog.ParseComplaint(res.log)
		detail = c.Line
		if detail == "" {
			_, detail = Classify(res.errno, res.log)
		}
		if at < callAt {
			// Refused before the call was reached, or before any instruction was walked
			// ("ldimm64 failed to find the address for kernel symbol ..."): the values the
			// probe computes or names were refused, not the helper's arguments.
			return false, failedReg, "the probe's own setup was refused: " + detail
		}
		reg := c.Reg
		if c.Kind == verifierlog.NotAboutArg {
			if at != callAt {
				return true, failedReg, detail // past the call: its effects, the return, a reference
			}
			// Refused at the call without naming a register: about the value given last.
			// When giving it moved the walk to another variant, that variant refuses the
			// helper itself ("helper call is not allowed in probe"): the value's next source
			// may be in one that does not.
			if a.lastGiven > 0 && a.retryElsewhere(a.lastGiven) {
				continue
			}
			return false, max(failedReg, a.lastGiven), detail
		}
		switch c.Kind {
		case verifierlog.WrongMapType:
			reg = a.mapSlot()
		case verifierlog.NeedsBTFField:
			reg = a.lastGiven
		case verifierlog.BadSize, verifierlog.OtherArg:
			if reg == 0 {
				reg = a.unnamedReg(c)
			}
			if c.ArgNum >= 0 {
				reg = a.countedReg(c)
			}
		}
		if reg == 0 {
			return false, failedReg, detail
		}
		failedReg = max(failedReg, reg)
		key := fmt.Sprint(reg, c.Line, a.state())
		if seen[key] {
			return false, failedReg, detail // the same refusal of the same program: no progress
		}
		seen[key] = true
		if !a.remedy(c, reg) {
			return false, failedReg, detail
		}
	}
}

// unnamedReg is the register a complaint that names none is about, 0 when the pass cannot
// tell. 5.10 and 6.1 say "invalid zero-sized read" of the size that follows a memory pointer
// (the register after the one given memory last), and 5.10 says a release helper's "reference
// has not been acquired before" of the value given last.
func (a *argWalk) unnamedReg(c verifierlog.Complaint) int {
	switch {
	case c.Kind == verifierlog.BadSize && a.lastGiven > 0 && a.lastGiven < bpfasm.MaxArgs &&
		slices.Contains(a.slots[a.lastGiven-1].expected, "fp"):
		return a.lastGiven + 1
	case c.Kind == verifierlog.OtherArg && c.ReleaseUnacquired():
		return a.lastGiven
	}
	return 0
}

// countedReg is the register of an "Expected an initialized dynptr as arg #N" complaint,
// which is always about a register the walk gave a pointer: 6.1 counts N from 1, later kernels
// from 0, so N names either register N+1 or register N, and only one of them holds a value the
// walk gave when they differ in that.
func (a *argWalk) countedReg(c verifierlog.Complaint) int {
	if !c.CountMayStartAtOne() {
		return c.Reg
	}
	fromOne := c.ArgNum
	if fromOne >= 1 && fromOne <= bpfasm.MaxArgs && a.slots[fromOne-1].given != "" && (c.Reg == 0 || a.slots[c.Reg-1].given == "") {
		return fromOne
	}
	return c.Reg
}

// argsFound is the number of arguments the walk learnt the helper takes: for a complete walk,
// up to the last register the verifier checks (probeUntouched); otherwise up to the last one it
// refused or was given something.
func (a *argWalk) argsFound(complete bool, failedReg int) int {
	if complete {
		return a.probeUntouched()
	}
	n := max(failedReg, 0)
	for i, s := range a.slots {
		if s.given != "" || s.expected != nil {
			n = max(n, i+1)
		}
	}
	return n
}

// state renders what the slots hold, to notice a refusal repeated for the same program.
func (a *argWalk) state() string {
	var b strings.Builder
	b.WriteString(a.v.spec.name + ":" + a.v.info.Target)
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
