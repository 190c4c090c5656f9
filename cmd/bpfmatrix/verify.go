package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/observe"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/report"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

func init() {
	register(&command{
		name:    "verify",
		summary: "judge registry entries against the kernels (cached observations, booting only what is missing)",
		run:     runVerify,
	})
}

// exitNoEvidence is verify's answer when a requested entry could not be judged: every kernel
// that could have told failed.
const exitNoEvidence = 3

const verifyUsage = `usage: bpfmatrix verify [--registry FILE] [--kernels 5.10,7.3] [--arch arm64] [--format text|json] [HELPER...]

Judges registry entries (all, or the HELPERs named, by name or id) against what the kernels of
kernels.yaml do. Observations are cached per kernel image and agent binary, so a registry edit
is judged in about a second; kernels not observed yet are fetched and booted first.
--arch arm64 observes the arm64 builds of the kernels (as bpfmatrix run --arch arm64 does),
named <name>-arm64, and judges them with the answers archdiffs.yaml (--archdiffs FILE for
another) records for their release expected instead of the registry's; so are the arm64
documents of --in.
Exit status: 0 nothing contradicted, 1 a contradiction or a failed kernel, 2 bad input, 3 a
requested entry has no evidence (its kernels failed).
`

// verifyOutput is the JSON document of verify --format json.
type verifyOutput struct {
	Registry string                  `json:"registry"`
	Kernels  []verifyKernel          `json:"kernels"`
	Helpers  []verdict.HelperVerdict `json:"helpers"`
	// Kfuncs are the kfunc verdicts (every kfunc when nothing is named, else the kfuncs named).
	Kfuncs []verdict.KfuncVerdict `json:"kfuncs,omitempty"`
	// Contradicted counts the helpers and kfuncs above whose verdict is contradicted.
	Contradicted int `json:"contradicted"`
	// ArgumentsConfirmed counts the helpers above with every argument's kind confirmed.
	ArgumentsConfirmed int `json:"arguments_confirmed"`
	// noEvidence is set when some helper above has no evidence.
	noEvidence bool
}

type verifyKernel struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Status  string `json:"status"`
	Cached  bool   `json:"cached"`
	Error   string `json:"error,omitempty"`
}

// verifyFlags are verify's flags.
type verifyFlags struct {
	regPath, kfuncsPath, kernels, format, out, in *string
	archDiffs                                     *string
	refresh, verbose                              *bool
	gf                                            *guestFlags
	sf                                            *savedFlags
}

func addVerifyFlags(fs *flag.FlagSet) *verifyFlags {
	f := &verifyFlags{
		regPath:    registryFlag(fs),
		kfuncsPath: kfuncsFlag(fs),
		kernels:    fs.String("kernels", "", "comma-separated kernel names of kernels.yaml (default: all)"),
		format:     formatFlag(fs, "text", "json"),
		gf:         addGuestFlags(fs),
		sf:         addSavedFlags(fs),
		refresh:    fs.Bool("refresh", false, "ignore cached observations and boot every kernel"),
		out:        fs.String("out", "", "also write the per-kernel observations to DIR (the layout bpfmatrix report --in reads)"),
		in:         fs.String("in", "", "judge the saved observations in DIR (as run, verify --out or the suite write them) instead of observing kernels"),
		verbose:    fs.Bool("v", false, "show each kernel's progress on stderr (shown anyway on a terminal)"),
		archDiffs:  archDiffsFlag(fs, "architecture differences file whose answers another architecture's kernels are judged by, instead of the built-in one"),
	}
	f.gf.addArch(fs)
	return f
}

func runVerify(args []string, stdout, stderr io.Writer) int {
	c := cmdline{"verify", verifyUsage}
	f, pos, code := parseWith(c, addVerifyFlags, -1, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if *f.in != "" && (*f.kernels != "" || *f.refresh || *f.out != "") {
		return c.fail(stderr, fmt.Errorf("--in judges saved observations: --kernels, --refresh and --out do not apply"))
	}
	if *f.in != "" && f.gf.given("arch") {
		return c.fail(stderr, fmt.Errorf("--in judges saved observations each by the architecture its document says: --arch does not apply"))
	}
	reg, kfuncs, err := loadTables(*f.regPath, *f.kfuncsPath)
	if err != nil {
		return c.fail(stderr, err)
	}
	wanted, wantedKfuncs, err := findEntries(reg.Registry, kfuncs, pos)
	if err != nil {
		return c.fail(stderr, err)
	}
	start := time.Now()
	ks, cached, err := f.observations(stderr)
	if errors.Is(err, errBadInput) {
		return c.fail(stderr, err)
	}
	if err != nil {
		c.say(stderr, err)
		if errors.Is(err, harness.ErrNoAgent) && f.gf.given("arch") {
			return exitBadArgs // no agent for an emulated architecture: bad setup, as for run
		}
		return exitNo
	}
	if err := expectArch(ks, *f.archDiffs); err != nil {
		return c.fail(stderr, err)
	}
	all := len(wanted) == 0 && len(wantedKfuncs) == 0
	doc := judge(reg, ks, cached, wanted, all, stderr)
	judgeKfuncs(&doc, kfuncs, ks, wantedKfuncs, all)
	if *f.format != "json" {
		printVerdicts(stdout, doc)
	} else if code := writeJSON(stdout, stderr, doc); code != exitOK {
		return code
	}
	return verifyExit(doc, !all, time.Since(start), stderr)
}

// verifyExit prints verify's summary line and returns its exit status: 1 for a contradiction or
// a kernel that failed beside ok ones, 3 when nothing (or a named entry) could be judged.
func verifyExit(doc verifyOutput, named bool, took time.Duration, stderr io.Writer) int {
	okKernels := 0
	for _, k := range doc.Kernels {
		if k.Status == observation.StatusOK {
			okKernels++
		}
	}
	failedKernels := len(doc.Kernels) - okKernels
	fmt.Fprintf(stderr, "bpfmatrix verify: %d helper(s) against %d kernel(s) (%d ok) in %.2fs: %d contradicted; %d with every argument's kind confirmed\n",
		len(doc.Helpers), len(doc.Kernels), okKernels, took.Seconds(), doc.Contradicted, doc.ArgumentsConfirmed)
	switch {
	case doc.Contradicted > 0:
		return exitNo
	case failedKernels > 0 && okKernels > 0:
		// The verdicts above lack the failed kernels' word: a contradiction only they would
		// show must not pass as consistent.
		fmt.Fprintf(stderr, "bpfmatrix verify: %d kernel(s) failed (named above): the verdicts lack their observations\n", failedKernels)
		return exitNo
	case okKernels == 0 || (named && doc.noEvidence):
		return exitNoEvidence
	}
	return exitOK
}

// observations returns the kernels verify judges: the saved ones of --in, or those of the
// pipeline (cached, booting what is missing), with which came from the cache. An error of the
// user's input wraps errBadInput.
func (f *verifyFlags) observations(stderr io.Writer) ([]report.Kernel, map[string]bool, error) {
	// options also settles which kernels file --in's lock comes from.
	options := f.gf.options
	if *f.in != "" {
		options = f.gf.guestOptions // saved observations need no cache (nor a HOME to find one)
	}
	opts, err := options(*f.kernels)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errBadInput, err)
	}
	if *f.in != "" {
		ks, err := f.sf.read(*f.in, f.gf.kernelsFile, stderr)
		return ks, nil, err
	}
	opts.Refresh = *f.refresh
	return observeKernels(opts, *f.out, *f.verbose, stderr)
}

// expectArch gives each kernel of another architecture than amd64 the answers the table of
// architecture differences in path (the built-in one for "") records for its release, to be
// expected instead of the registry's (verdict.ArchExpectation). amd64 kernels are judged by the
// registry alone, and without --archdiffs no table is read for them.
func expectArch(ks []report.Kernel, path string) error {
	var t *registry.ArchDiffs
	for i := range ks {
		if ks[i].Arch == "" && path == "" {
			continue
		}
		if t == nil {
			var err error
			if t, err = loadArchDiffs(path); err != nil {
				return fmt.Errorf("--archdiffs: %w", err)
			}
		}
		ks[i].Expect = verdict.ArchExpectation(t, ks[i].Version, ks[i].Arch)
	}
	return nil
}

// findEntries resolves the entries named on the command line: helpers by name or id, else
// kfuncs by name.
func findEntries(reg *registry.Registry, kfuncs *registry.Kfuncs, args []string) ([]*registry.Helper, []*registry.Kfunc, error) {
	var helpers []*registry.Helper
	var ks []*registry.Kfunc
	for _, arg := range args {
		h, err := reg.Find(arg)
		if err == nil {
			helpers = append(helpers, h)
			continue
		}
		if k, ok := kfuncs.Lookup(arg); ok {
			ks = append(ks, k)
			continue
		}
		return nil, nil, err
	}
	return helpers, ks, nil
}

// judgeKfuncs adds the verdicts of the wanted kfuncs (of all, when all is set) to doc.
func judgeKfuncs(doc *verifyOutput, table *registry.Kfuncs, ks []report.Kernel, wanted []*registry.Kfunc, all bool) {
	if table.Len() == 0 || (!all && len(wanted) == 0) {
		return
	}
	vks := make([]verdict.Kernel, len(ks))
	for i, k := range ks {
		vks[i] = k.Kernel
	}
	for _, kv := range verdict.JudgeKfuncs(table, vks) {
		keep := all
		for _, w := range wanted {
			keep = keep || w.Name == kv.Name
		}
		if !keep {
			continue
		}
		doc.Kfuncs = append(doc.Kfuncs, kv)
		switch kv.Verdict {
		case verdict.Contradicted:
			doc.Contradicted++
		case verdict.NoEvidence:
			doc.noEvidence = true
		}
	}
}

// observeKernels runs the pipeline and returns the report's view of each kernel and which
// ones came from the cache; with out set it also writes the documents there.
func observeKernels(opts observe.Options, out string, verbose bool, stderr io.Writer) ([]report.Kernel, map[string]bool, error) {
	names, err := opts.Select()
	if err == nil && out != "" {
		err = observe.CheckOutDir(out, opts.Arch, names)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errBadInput, err)
	}
	ctx, stop := signalContext()
	defer stop()
	finish := func() {}
	if verbose || isTerminal(stderr) {
		opts.OnEvent, finish = progressFor(stderr, names)
	}
	obs, err := observe.Run(ctx, opts)
	finish()
	if err != nil {
		return nil, nil, err
	}
	if out != "" {
		if _, err := observe.WriteDir(out, obs); err != nil {
			return nil, nil, err
		}
	}
	cached := map[string]bool{}
	for _, o := range obs {
		cached[o.Label()] = o.Cached // by the name reportKernels gives it
	}
	return reportKernels(obs), cached, nil
}

// judge computes the verdicts of the wanted helpers (of every helper when all is set).
func judge(reg helperTable, ks []report.Kernel, cached map[string]bool, wanted []*registry.Helper, all bool, stderr io.Writer) verifyOutput {
	doc := verifyOutput{Registry: reg.File()}
	judged := make([]verdict.Kernel, 0, len(ks))
	for _, k := range ks {
		vk := verifyKernel{Name: k.Name, Status: observation.StatusOK, Cached: cached == nil || cached[k.Name]}
		if !k.Version.IsZero() {
			vk.Version = k.Version.String()
		}
		if k.Failed {
			vk.Status, vk.Error = observation.StatusFailed, k.Error
			fmt.Fprintf(stderr, "bpfmatrix verify: kernel %s failed: %s\n", k.Name, oneLine(errors.New(k.Error)))
		}
		doc.Kernels = append(doc.Kernels, vk)
		judged = append(judged, k.Kernel)
	}
	if all {
		doc.Helpers = verdict.Judge(reg.Registry, reg.prov, judged)
	} else {
		doc.Helpers = verdict.JudgeHelpers(wanted, reg.prov, judged)
	}
	for _, hv := range doc.Helpers {
		switch hv.Verdict {
		case verdict.Contradicted:
			doc.Contradicted++
		case verdict.NoEvidence:
			doc.noEvidence = true
		}
		for _, c := range hv.Claims {
			if c.Claim == verdict.ClaimArgKinds && c.Verdict == verdict.Confirmed {
				doc.ArgumentsConfirmed++
			}
		}
	}
	return doc
}

// printVerdicts prints one block per helper: its verdict, how each program type fared, and each
// contradiction in full.
func printVerdicts(w io.Writer, doc verifyOutput) {
	defer printKfuncVerdicts(w, doc)
	for _, hv := range doc.Helpers {
		name := fmt.Sprintf("bpf_%s (id %d)", hv.Name, hv.ID)
		if hv.Entry != "" && hv.Entry != name {
			name = hv.Entry
		}
		fmt.Fprintf(w, "%s: %s\n", name, hv.Verdict)
		if r := hv.Existence.Reason; r != "" && hv.Existence.Verdict != verdict.Contradicted {
			fmt.Fprintf(w, "  exists: %s: %s\n", hv.Existence.Verdict, r)
		}
		for _, tv := range hv.Types {
			if tv.Verdict == verdict.Contradicted {
				continue // said in full below
			}
			span := ""
			if tv.FirstOffered != "" {
				span = fmt.Sprintf(" (offered on %s..%s)", tv.FirstOffered, tv.LastOffered)
			}
			fmt.Fprintf(w, "  %s: %s%s\n", tv.ProgType, tv.Verdict, span)
		}
		for _, c := range hv.Claims {
			if c.Verdict != verdict.Contradicted && c.Verdict != verdict.NoEvidence {
				fmt.Fprintf(w, "  %s: %s: %s\n", c.Claim, c.Verdict, c.Evidence)
			}
			for _, n := range c.Notes {
				fmt.Fprintf(w, "  %s: note: %s\n", c.Claim, n)
			}
		}
		for _, f := range hv.Findings {
			fmt.Fprintf(w, "  CONTRADICTED %s\n", f)
		}
	}
}

// printKfuncVerdicts prints one line per kfunc and one per distinct finding.
func printKfuncVerdicts(w io.Writer, doc verifyOutput) {
	for _, kv := range doc.Kfuncs {
		fmt.Fprintf(w, "%s (kfunc): %s\n", kv.Name, kv.Verdict)
		for _, f := range kv.Findings {
			fmt.Fprintf(w, "  CONTRADICTED %s\n", f)
		}
	}
}
