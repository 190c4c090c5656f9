package probe

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	bpfasm "github.com/bpfmatrix/bpfmatrix/asm"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// resolveAll resolves every spec against the kernel, in order, and records the facts and the
// baseline loads that cost. Only the ext variant needs a target program of its own, so one is
// loaded only when an ext spec was selected, and closed before New returns.
func (p *Prober) resolveAll(specs []*variantSpec, k *kernelBTF) {
	l := newLoader(p.logSize)
	var ext *extTarget
	var extErr error
	for _, s := range specs {
		if s.target == targetExt {
			ext, extErr = newExtTarget(l)
			break
		}
	}
	defer ext.Close()
	for _, s := range specs {
		v := p.resolve(s, k, l, ext, extErr)
		switch {
		case !v.info.Usable && s.discovered:
			fmt.Fprintf(p.opts.Log, "probe: %s/%s absent on this kernel: %s\n", s.progType, s.name, v.info.Reason)
			continue
		case !v.info.Usable:
			v.info.Reason += p.missingConfig(s)
		}
		p.variants = append(p.variants, v)
	}
	p.variants = dropSentinelMembers(p.variants)
	p.stats.BaselineLoads = l.stats.loads
	p.addStats(l)
	p.facts.ProgTypes = p.progTypeFacts()
}

// missingConfig names the build options a variant needs that the kernel's known configuration
// lacks, as a clause to append to the reason it is unusable: the kernel's refusal alone does not
// say that no better probe could load it.
func (p *Prober) missingConfig(s *variantSpec) string {
	if p.opts.KernelConfig == nil {
		return ""
	}
	var missing []string
	for _, opt := range s.configs {
		if !p.opts.KernelConfig.Set(opt) {
			missing = append(missing, opt)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return "; this kernel is built without " + strings.Join(missing, ", ")
}

// resolve fills in a variant's load parameters from the kernel's BTF and learns with a trivial
// program whether the kernel loads the variant at all, and whether it loads it without GPL. An
// unusable variant keeps the load parameters it had before the step that failed: the everyPair
// strategy still loads it.
func (p *Prober) resolve(s *variantSpec, k *kernelBTF, l *loader, ext *extTarget, extErr error) *variant {
	v := &variant{spec: s, info: observation.VariantInfo{Name: s.name, Section: attachPointKey(s.section), AttachType: s.attachType, Sleepable: s.sleepable}}
	if err := v.resolveTypes(k); err != nil {
		v.info.Reason = err.Error()
		return v
	}
	cands, err := v.candidates(k, ext, extErr)
	if err != nil {
		v.info.Reason = err.Error()
		return v
	}
	trivial, err := bpfasm.Marshal(bpfasm.TrivialProgramReturning(s.ret))
	if err != nil {
		v.info.Reason = err.Error()
		return v
	}
	if err := v.loadBaseline(k, l, cands, trivial); err != nil {
		v.info.Reason = err.Error()
		return v
	}
	if v.release != nil {
		// The license is checked with the program the variant loads: its epilogue calls a
		// kfunc, which no non-GPL program may, so its functions are asked with GPL only.
		trivial = v.release.trivial
	}
	v.checkLicense(l, trivial)
	return v
}

// resolveTypes sets the program type, expected attach type and flags of v's load parameters,
// failing when the kernel's BTF lacks the program type or a required attach type: a load would
// then only tell that the kernel does not know the value.
func (v *variant) resolveTypes(k *kernelBTF) error {
	s := v.spec
	progTypeID, _ := registry.ProgTypeID(s.progType)
	v.prog.progType = progTypeID
	enumName := "BPF_PROG_TYPE_" + strings.ToUpper(s.progType)
	if k != nil {
		if _, ok := k.progTypes[enumName]; !ok {
			return fmt.Errorf("type absent: %s is not in the kernel's enum bpf_prog_type", enumName)
		}
	}
	if s.attachType != "" {
		val, ok := uapiAttachTypes[s.attachType]
		if k != nil {
			val, ok = k.attachTypes[s.attachType]
		}
		switch {
		case ok:
			v.prog.attachType = val
		case s.attachOptional:
			v.info.AttachType = ""
		default:
			return fmt.Errorf("attach type absent: %s is not in the kernel's enum bpf_attach_type", s.attachType)
		}
	}
	if s.sleepable {
		v.prog.flags |= unix.BPF_F_SLEEPABLE
	}
	return nil
}

// candidate is the load parameters of a variant for one attach target.
type candidate struct {
	name string
	prog program
}

// candidates returns v's load parameters for every attach target the kernel has, in the spec's
// order of preference, or why there is none.
func (v *variant) candidates(k *kernelBTF, ext *extTarget, extErr error) ([]candidate, error) {
	s := v.spec
	switch s.target {
	case noTarget:
		return []candidate{{"", v.prog}}, nil
	case targetExt:
		if extErr != nil {
			return nil, extErr
		}
		prog := ext.program()
		prog.flags = v.prog.flags
		return []candidate{{"probe_target (XDP program)", prog}}, nil
	}
	if k == nil {
		return nil, errors.New("no kernel BTF to find an attach target in")
	}
	var cands []candidate
	var missing []string
	for _, name := range s.candidates {
		c, ok := btfTarget(k, s, name, v.prog)
		if !ok {
			missing = append(missing, c.name)
			continue
		}
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("no attach target: none of %s is in the kernel's BTF", strings.Join(missing, ", "))
	}
	return cands, nil
}

// btfTarget aims prog at the attach target name in the kernel's BTF, and reports whether the
// kernel has it. A struct_ops target is a member of the struct: its name gets the member's, so
// that results and refusals say which one was meant.
func btfTarget(k *kernelBTF, s *variantSpec, name string, prog program) (candidate, bool) {
	var id btf.TypeID
	var ok bool
	switch s.target {
	case targetFunc:
		id, _, ok = typeID[*btf.Func](k, name)
	case targetTP:
		id, _, ok = typeID[*btf.Typedef](k, name)
	case targetMember:
		// A candidate is a kind with the spec's member, or "KIND.MEMBER" (a sentinel's).
		kind, member, named := strings.Cut(name, ".")
		if !named {
			member = s.member
		}
		var st *btf.Struct
		id, st, ok = typeID[*btf.Struct](k, kind)
		if ok {
			idx := slices.IndexFunc(st.Members, func(m btf.Member) bool { return m.Name == member })
			if idx < 0 {
				ok = false
			}
			prog.attachType = uint32(idx) // struct_ops: the member's index
		}
		name = kind + "." + member
	}
	prog.attachBTFID = uint32(id)
	return candidate{name, prog}, ok
}

// loadBaseline makes v usable with the first candidate the kernel loads a trivial program for.
// Anything less than a program that does nothing would make every helper's answer about
// something other than the helper; a struct_ops member that hands the program a reference
// makes it one that does nothing but release it (release.go).
func (v *variant) loadBaseline(k *kernelBTF, l *loader, cands []candidate, trivial []byte) error {
	var refusals []refusal
	for _, c := range cands {
		res := l.load(&c.prog, trivial, true)
		var rel *releaseEpilogue
		var why string
		if res.errno != 0 {
			rel, res, why = v.learnRelease(k, l, c, trivial, res)
		}
		if res.errno != 0 {
			_, detail := Classify(res.errno, res.log)
			if why != "" {
				detail += " (" + why + ")"
			}
			refusals = append(refusals, refusal{c.name, detail})
			continue
		}
		v.prog, v.release = c.prog, rel
		v.info.Target = c.name
		v.info.Usable = true
		if rel != nil {
			v.info.Releases = rel.desc
		}
		return nil
	}
	reason := summarize(refusals)
	s := v.spec
	if s.target == noTarget && s.attachType == "" && reason == "EINVAL before verification (empty log)" {
		// The kernel has the enum value but no verifier ops for it: not built in.
		reason = "type absent: the kernel refuses the type before verification (EINVAL, empty log); it is not built into this kernel"
	}
	return errors.New(reason)
}

// checkLicense marks v GPL-only when the kernel refuses its trivial program without GPL. Some
// types refuse non-GPL programs before verification (LSM, struct_ops): then every helper is
// asked with a GPL license only.
func (v *variant) checkLicense(l *loader, trivial []byte) {
	res := l.load(&v.prog, trivial, false)
	if outcome, detail := Classify(res.errno, res.log); res.errno != 0 && outcome == observation.Inconclusive {
		v.gplRequired = true
		v.info.GPLRequired = true
		v.info.GPLReason = detail
	}
}

// refusal is the kernel's answer to a trivial program for one attach target.
type refusal struct{ target, detail string }

// summarize renders refusals as one reason, naming the answer once when every target got the
// same one ("EPERM before verification (empty log); targets tried: a, b").
func summarize(refusals []refusal) string {
	same := true
	var targets []string
	for _, r := range refusals {
		same = same && r.detail == refusals[0].detail
		if r.target != "" {
			targets = append(targets, r.target)
		}
	}
	if same {
		if len(targets) == 0 {
			return refusals[0].detail
		}
		return fmt.Sprintf("%s; targets tried: %s", refusals[0].detail, strings.Join(targets, ", "))
	}
	parts := make([]string, len(refusals))
	for i, r := range refusals {
		parts[i] = r.target + ": " + r.detail
	}
	return strings.Join(parts, "; ")
}

// progTypeFacts groups the variants' facts by program type. A type is present when any of its
// variants loads: an absent one carries its first variant's reason, the one a reader looks for.
func (p *Prober) progTypeFacts() []observation.ProgTypeInfo {
	var out []observation.ProgTypeInfo
	for _, v := range p.variants {
		if len(out) == 0 || out[len(out)-1].Name != v.spec.progType {
			out = append(out, observation.ProgTypeInfo{Name: v.spec.progType})
		}
		t := &out[len(out)-1]
		t.Variants = append(t.Variants, v.info)
		if v.info.Usable {
			t.Present = true
			t.Reason = ""
		} else if !t.Present && t.Reason == "" {
			t.Reason = v.info.Reason
		}
	}
	return out
}
