package registry

import (
	"go.yaml.in/yaml/v3"

	"github.com/bpfmatrix/bpfmatrix/section"
)

// The attach_points key of helpers.yaml and kfuncs.yaml, read by the shared parse skeleton for
// both kinds of entry:
//
//	attach_points:
//	  kprobe.session: {since: "6.10", evidence: "probe: 6.12, 7.3"}
//	  tp_btf/tcp_destroy_sock: {offered: false, evidence: "probe: 6.12 refuses, iter/tcp accepts"}
//
// Each key is a canonical attach-point key (AttachPointKey): a section key, a struct_ops kind as
// a whole (struct_ops/sched_ext_ops), or a program type's name, which names the type's default
// attachment (kprobe: a kprobe attached as plain kprobes are, not kprobe.session), whose facts
// then answer for it in place of prog_types and prog_type_*. Each value takes since, until and gaps as a
// program type's facts do, offered only as false (the attach point refuses, on every kernel, what
// its program type offers: a refusal on some kernels only is an offer with since, until or gaps),
// and evidence, required: which kernels and targets showed the facts. An attach point may offer
// a function its program type does not (bpf_session_cookie at kprobe.session), but may refuse
// only what its program type offers.

// attachPointKeys are the keys of one attach point's facts.
const attachPointKeys = "since, until, gaps, offered, evidence"

// attachPoints reads attach_points: canonical section key -> the attach point's facts.
func (l *loader) attachPoints(n *yaml.Node) map[string]AttachPoint {
	return readKeyed(l, n, "attach_points", l.pointKey, l.attachPoint)
}

// pointKey reports whether the key of kv is a canonical section key naming an attach point, and
// says why when it is not.
func (l *loader) pointKey(kv field) bool {
	s, err := section.Parse(kv.key)
	if err != nil {
		l.errorf(kv.keyN, "attach_points: %v", err)
		return false
	}
	if key := AttachPointKey(s); key != kv.key {
		l.errorf(kv.keyN, "attach_points: write %s as its canonical key %q", excerpt(kv.key), key)
		return false
	}
	return true
}

// attachPoint reads the facts of one attach point; ok is false when they are unusable (and
// reported).
func (l *loader) attachPoint(n *yaml.Node, what string) (p AttachPoint, ok bool) {
	before := len(l.errs)
	rec := spanRecord{what: what, keys: attachPointKeys, shows: "which kernels and targets showed it", own: func(kv field) bool {
		if kv.key != "offered" {
			return false
		}
		if l.boolean(kv.valN, what+".offered") {
			l.errorf(kv.valN, "%s.offered: write it only as false (an attach point with facts offers unless it says so)", what)
		}
		p.Refused = true
		return true
	}}
	span, evidence, fs := rec.read(l, n)
	if fs == nil {
		return p, false
	}
	p.Span, p.Evidence = span, evidence
	if p.Refused && (!p.Since.IsZero() || !p.Until.IsZero() || len(p.Gaps) > 0) {
		l.errorf(n, "%s: offered: false takes no since, until or gaps (a refusal on some kernels only is an offer with since, until or gaps)", what)
	}
	return p, len(l.errs) == before
}

// checkAttachPoints cross-checks the attach points of a against the entry's other facts: a
// refusal needs a program type that offers, and no attach point comes before min_kernel.
func (l *loader) checkAttachPoints(a *Availability, fs fields) {
	eachKeyed(fs, "attach_points", a.AttachPoints, func(keyN *yaml.Node, p AttachPoint) {
		progType := mustParseSection(keyN.Value).ProgType
		if p.Refused && !a.ProgTypes.Contains(progType) {
			l.errorf(keyN, "attach_points: %s refuses what its program type %s does not offer (prog_types does not list it)", keyN.Value, progType)
		}
		if !p.Since.IsZero() && p.Since.Less(a.MinKernel) {
			l.errorf(keyN, "attach_points: %s since %s is older than min_kernel %s", keyN.Value, p.Since, a.MinKernel)
		}
	})
}

// mustParseSection parses a key the loader has already accepted.
func mustParseSection(key string) section.Section {
	s, err := section.Parse(key)
	if err != nil {
		panic("registry: accepted attach point key does not parse: " + err.Error())
	}
	return s
}
